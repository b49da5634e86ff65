/**
 * The pipeline runner: runs the phases' hooks in order, handles early answers, errors and
 * streams, and records `request.received` / `request.completed` for every request.
 */
import type { ChatCompletion, ChatCompletionChunk, Usage } from "../canonical/chat.ts";
import type { EmbeddingsResponse } from "../canonical/embeddings.ts";
import { emptyUsage } from "../canonical/chat.ts";
import { countTextTokens } from "../providers/tokens.ts";
import { promptTokensOf } from "./prompt-tokens.ts";
import type { Ctx, Outcome } from "./context.ts";
import { costNanosOf, priceCall, setCostNanos } from "./cost.ts";
import { nanosFromUsd } from "../pricing/money.ts";
import { GatewayError, toGatewayError } from "./errors.ts";
import { type Answer, type Plugin, type PluginHooks, REQUEST_PHASES, type RequestPhase } from "./plugin.ts";
import type { PipelineObserver } from "./observer.ts";
import { requestFacts } from "./request-facts.ts";

/** What the HTTP layer renders. A stream's first chunk has already arrived (errors before it throw). */
export type PipelineResult =
  | { kind: "response"; response: ChatCompletion; cached: boolean }
  | { kind: "embeddings"; response: EmbeddingsResponse; cached: boolean }
  | { kind: "stream"; chunks: AsyncIterableIterator<ChatCompletionChunk>; cached: boolean };

type HookName = keyof PluginHooks;
interface BoundHook<F> {
  plugin: string;
  fn: F;
}

/** Plugins sorted: `pre` first, then load order, then `post`. */
export function orderPlugins(plugins: readonly Plugin[]): Plugin[] {
  const rank = (p: Plugin) => (p.enforce === "pre" ? 0 : p.enforce === "post" ? 2 : 1);
  return plugins.map((p, i) => ({ p, i })).sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i).map((x) => x.p);
}

export class Pipeline {
  readonly plugins: readonly Plugin[];
  private readonly hooks: { [K in HookName]: BoundHook<NonNullable<PluginHooks[K]>>[] };

  /** Told about phases, hooks and the end of each request (tracing); absent = nothing to tell. */
  observer: PipelineObserver | undefined;

  constructor(plugins: readonly Plugin[], opts: { observer?: PipelineObserver } = {}) {
    this.observer = opts.observer;
    this.plugins = orderPlugins(plugins);
    const names = new Set<string>();
    for (const p of this.plugins) {
      if (names.has(p.name)) throw new Error(`Plugin name \`${p.name}\` is registered twice`);
      names.add(p.name);
    }
    const collect = <K extends HookName>(k: K) =>
      this.plugins.flatMap((p) => (p.phases[k] ? [{ plugin: p.name, fn: p.phases[k]! }] : []));
    this.hooks = {
      authenticate: collect("authenticate"),
      admit: collect("admit"),
      inspect: collect("inspect"),
      lookup: collect("lookup"),
      route: collect("route"),
      call: collect("call"),
      respond: collect("respond"),
      onChunk: collect("onChunk"),
      onEnd: collect("onEnd"),
      onError: collect("onError"),
    } as Pipeline["hooks"];
  }

  /**
   * Run a request through every phase. Resolves with a response or a stream; rejects with a
   * GatewayError (after onError and onEnd ran and `request.completed` was recorded).
   */
  async run(ctx: Ctx): Promise<PipelineResult> {
    this.#active++;
    ctx.emit({
      type: "request.received",
      payload: {
        endpoint: ctx.endpoint,
        model: ctx.request.model,
        stream: ctx.stream,
        messages: ctx.request.messages.length,
        service: ctx.meta.service ?? null,
        taskType: ctx.meta.taskType ?? null,
        user: ctx.meta.user ?? null,
      },
    });
    try {
      const answer = await this.runRequestPhases(ctx);
      ctx.answer = answer;
      await this.timed(ctx, "respond", async () => {
        for (const h of this.hooks.respond) await h.fn(ctx);
      });
      const final = ctx.answer;
      if (final.kind === "response") {
        await this.finish(ctx, { status: "ok", httpStatus: 200, usage: final.response.usage ?? emptyUsage(), latencyMs: 0 });
        return { kind: "response", response: final.response, cached: final.cached === true };
      }
      if (final.kind === "embeddings") {
        const u = final.response.usage;
        await this.finish(ctx, { status: "ok", httpStatus: 200, usage: { prompt_tokens: u.prompt_tokens, completion_tokens: 0, total_tokens: u.total_tokens }, latencyMs: 0 });
        return { kind: "embeddings", response: final.response, cached: final.cached === true };
      }
      return await this.startStream(ctx, final);
    } catch (err) {
      throw await this.fail(ctx, err);
    }
  }

  private async runRequestPhases(ctx: Ctx): Promise<Answer> {
    for (const phase of REQUEST_PHASES) {
      const answer = await this.timed(ctx, phase, () => this.runPhase(ctx, phase));
      if (answer) return answer;
    }
    throw new GatewayError({ status: 500, code: "no_answer", message: "No plugin answered the request (is a provider-call plugin loaded?)" });
  }

  private async runPhase(ctx: Ctx, phase: RequestPhase): Promise<Answer | undefined> {
    for (const h of this.hooks[phase]) {
      const answer = this.observer ? await this.observed(ctx, phase, h) : await h.fn(ctx);
      if (answer) {
        ctx.answeredBy ??= h.plugin; // the plugin host names the operator plugin that answered
        return answer;
      }
    }
    return undefined;
  }

  private async observed(ctx: Ctx, phase: RequestPhase, h: BoundHook<NonNullable<PluginHooks[RequestPhase]>>): Promise<Answer | void | undefined> {
    const t0 = performance.now();
    try {
      const answer = await h.fn(ctx);
      this.observer?.hookEnded(ctx, phase, h.plugin, t0);
      return answer;
    } catch (err) {
      this.observer?.hookEnded(ctx, phase, h.plugin, t0, err);
      throw err;
    }
  }

  private async timed<T>(ctx: Ctx, phase: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    const end = this.observer?.phaseStarted(ctx, phase, this.hooks[phase as HookName]?.length ?? 0);
    try {
      const out = await fn();
      end?.();
      return out;
    } catch (err) {
      end?.(err);
      throw err;
    } finally {
      ctx.timings[phase] = round2(performance.now() - t0);
    }
  }

  /** Pull the first chunk before committing to a 200: an upstream failure before it is a normal error. */
  private async startStream(ctx: Ctx, answer: Extract<Answer, { kind: "stream" }>): Promise<PipelineResult> {
    const source = answer.chunks[Symbol.asyncIterator]();
    const first = await source.next();
    const ttftMs = performance.now() - ctx.startedAt;
    return { kind: "stream", chunks: this.streamChunks(ctx, source, first, ttftMs), cached: answer.cached === true };
  }

  private async *streamChunks(
    ctx: Ctx,
    source: AsyncIterator<ChatCompletionChunk>,
    first: IteratorResult<ChatCompletionChunk>,
    ttftMs: number,
  ): AsyncGenerator<ChatCompletionChunk> {
    let text = "";
    let usage: Usage | undefined;
    let settled = false;
    try {
      for (let r = first; !r.done; r = await source.next()) {
        let chunk: ChatCompletionChunk | null = r.value;
        for (const h of this.hooks.onChunk) {
          if (!chunk) break;
          const out = await h.fn(ctx, chunk);
          if (out === null) chunk = null;
          else if (out) chunk = out;
        }
        if (!chunk) continue;
        if (chunk.usage) usage = chunk.usage;
        for (const c of chunk.choices) text += c.delta.content ?? "";
        yield chunk;
      }
      settled = true;
      await this.finish(ctx, { status: "ok", httpStatus: 200, usage: usage ?? estimateUsage(ctx, text), ttftMs, latencyMs: 0 });
    } catch (err) {
      settled = true;
      const error = toGatewayError(err);
      const usageSoFar = usage ?? estimateUsage(ctx, text);
      if (ctx.signal.aborted) {
        // The upstream call failed because the client left and we aborted it.
        await this.finish(ctx, { status: "client_disconnected", httpStatus: 499, usage: usageSoFar, ttftMs, latencyMs: 0 });
        throw error;
      }
      await this.runOnError(ctx, error);
      await this.finish(ctx, { status: "error", httpStatus: error.status, usage: usageSoFar, error, ttftMs, latencyMs: 0 });
      throw error;
    } finally {
      if (!settled) {
        // The consumer stopped early: the client went away. Stop the upstream and record what was streamed.
        await source.return?.();
        await this.finish(ctx, { status: "client_disconnected", httpStatus: 499, usage: usage ?? estimateUsage(ctx, text), ttftMs, latencyMs: 0 });
      }
    }
  }

  private async fail(ctx: Ctx, err: unknown): Promise<GatewayError> {
    const error = toGatewayError(err);
    await this.runOnError(ctx, error);
    const status = ctx.signal.aborted ? "client_disconnected" : "error";
    await this.finish(ctx, { status, httpStatus: error.status, usage: emptyUsage(), error, latencyMs: 0 });
    return error;
  }

  private async runOnError(ctx: Ctx, error: GatewayError): Promise<void> {
    for (const h of this.hooks.onError) {
      try {
        await h.fn(ctx, error);
      } catch (hookErr) {
        console.error(`[pipeline] onError hook of ${h.plugin} threw:`, hookErr);
      }
    }
  }

  /** Runs once per request: onEnd hooks, then the authoritative `request.completed`. */
  private async finish(ctx: Ctx, outcome: Outcome): Promise<void> {
    if (ctx.state["pipeline.finished"]) return;
    ctx.state["pipeline.finished"] = true;
    try {
      await this.record(ctx, outcome);
    } finally {
      // Work onEnd hooks left running (a settle) keeps the request active: a stop waits for it.
      if (ctx.after?.length) void Promise.allSettled(ctx.after).then(() => this.#active--);
      else this.#active--;
    }
  }

  #active = 0;
  /** Requests started and not yet recorded as completed, or whose onEnd work is still running (a shutdown waits for them). */
  get active(): number {
    return this.#active;
  }

  private async record(ctx: Ctx, outcome: Outcome): Promise<void> {
    outcome.latencyMs = round2(performance.now() - ctx.startedAt);
    if (outcome.ttftMs !== undefined) outcome.ttftMs = round2(outcome.ttftMs);
    const cached = ctx.answer?.cached === true;
    if (ctx.target && !cached && ctx.costUsd === 0) {
      const priced = priceCall(ctx.config, ctx.target.provider.id, ctx.target.model, outcome.usage);
      setCostNanos(ctx, priced.costNanos);
      if (priced.source) ctx.state["price.source"] = priced.source;
    }
    for (const h of this.hooks.onEnd) {
      try {
        await h.fn(ctx, outcome);
      } catch (hookErr) {
        console.error(`[pipeline] onEnd hook of ${h.plugin} threw:`, hookErr);
      }
    }
    ctx.emit({ type: "request.completed", v: COMPLETED_VERSION, payload: completedPayload(ctx, outcome, cached) });
    this.observer?.finished(ctx, outcome);
  }
}

/**
 * `request.completed` schema version. v2 adds the integer `costNanos` / `savedNanos` (the
 * authority; `costUsd` / `savedUsd` are the same amounts as numbers, kept for older readers).
 * Readers of v1 events (costUsd only) convert with `payloadNanos` (src/pricing/money.ts).
 */
export const COMPLETED_VERSION = 2;

function completedPayload(ctx: Ctx, o: Outcome, cached: boolean): Record<string, unknown> {
  const costNanos = costNanosOf(ctx);
  const savedNanos = ctx.savedNanos ?? nanosFromUsd(ctx.savedUsd);
  return {
    status: o.status,
    httpStatus: o.httpStatus,
    errorCode: o.error?.code ?? null,
    errorMessage: o.error?.message ?? null,
    endpoint: ctx.endpoint,
    operation: ctx.operation,
    stream: ctx.stream,
    requestedModel: ctx.request.model,
    provider: ctx.target?.provider.id ?? null,
    model: ctx.target?.model ?? null,
    answeredBy: ctx.answeredBy ?? null,
    cached,
    inputTokens: o.usage.prompt_tokens,
    outputTokens: o.usage.completion_tokens,
    cachedTokens: o.usage.prompt_tokens_details?.cached_tokens ?? 0,
    cacheWriteTokens: o.usage.prompt_tokens_details?.cache_write_tokens ?? 0,
    reasoningTokens: o.usage.completion_tokens_details?.reasoning_tokens ?? 0,
    priceSource: (ctx.state["price.source"] as string | undefined) ?? null,
    costNanos,
    savedNanos,
    costUsd: ctx.costUsd,
    savedUsd: ctx.savedUsd ?? 0,
    latencyMs: o.latencyMs,
    ttftMs: o.ttftMs ?? null,
    service: ctx.meta.service ?? ctx.principal.service ?? null,
    keyId: ctx.principal.keyId ?? null,
    keyPrefix: ctx.principal.keyPrefix ?? null,
    attempts: ctx.attempts,
    user: ctx.meta.user ?? ctx.principal.user ?? null,
    taskType: ctx.meta.taskType ?? null,
    timings: ctx.timings,
    guardrails: (ctx.state["guardrails"] as { counts?: unknown } | undefined)?.counts ?? null,
    // The request explorer's facts (cache key hash, route level, guardrail action): src/explorer.
    ...requestFacts(ctx, o),
  };
}

/** Usage when the stream ended before the provider reported it: count what was sent. */
function estimateUsage(ctx: Ctx, streamedText: string): Usage {
  const prompt = promptTokensOf(ctx);
  const completion = streamedText.length ? countTextTokens(streamedText) : 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

