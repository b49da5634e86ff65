/**
 * guardrails: PII, secrets and content rules on input (inspect phase) and output (respond /
 * onChunk), per the tenant's effective policy from the config snapshot. A thin shell: the
 * detectors, the redaction and the stream hold-back are pure code in src/guardrails/.
 *
 *   inspect: max_input_chars → 400 input_too_large; scan every text; block → 400 pii_blocked;
 *            redact / restore → the provider sees placeholders (`[EMAIL_1]`)
 *   respond: a whole answer is scanned, then placeholders restored; block → 400 pii_blocked
 *   onChunk: streamed text is scanned with the shortest possible hold-back; block → SSE error
 *   a scanner failure → 503 guardrail_failed (fail_mode `closed`, the default) or passes (`open`)
 *
 * `ctx.state["guardrails"]` (GuardrailsState) tells other plugins what applied — e.g. the
 * cache: with `restore`, store the provider's answer (placeholders), never what the client got.
 * The value map itself stays in a WeakMap keyed by the request: never in ctx.state, events or logs.
 */
import { type Action, isIdle, type GuardrailPolicy, policyFor } from "../guardrails/config.ts";
import { ChunkGuard } from "../guardrails/chunks.ts";
import { type Counts, type Direction, Redactor } from "../guardrails/redact.ts";
import { inputChars, processCompletion, redactRequest } from "../guardrails/request.ts";
import type { ChatCompletionChunk } from "../canonical/chat.ts";
import type { Ctx } from "../pipeline/context.ts";
import { GatewayError } from "../pipeline/errors.ts";
import { definePlugin } from "../pipeline/plugin.ts";

/** What `ctx.state["guardrails"]` holds (no values, only facts). */
export interface GuardrailsState {
  /** The input was rewritten (placeholders) before the provider saw it. */
  redacted: boolean;
  /** Placeholders of `restore` types were issued: outputs are restored for the client. */
  restore: boolean;
  /** Per-type counts found, by direction (also in `request.completed` as `guardrails`). */
  counts: { input: Counts; output: Counts };
  /** Largest streamed hold-back, in characters. */
  maxHeldChars?: number;
  /** The provider's whole answer before output guardrails ran (placeholders, not restored). */
  upstreamAnswer?: unknown;
  /** Streams: the provider's chunks as they arrived, before output guardrails (placeholders, not restored). */
  upstreamChunks?: ChatCompletionChunk[];
}

export const GUARDRAILS_STATE = "guardrails";

const redactors = new WeakMap<Ctx, Redactor>();
const guards = new WeakMap<Ctx, ChunkGuard>();

function failed(policy: GuardrailPolicy, err: unknown, ctx: Ctx, dir: Direction): boolean {
  if (err instanceof GatewayError) throw err;
  const needsScan = [...policy.actions.values()].some((a: Action) => a !== "log") || policy.rules.length > 0;
  ctx.emit({ type: "guardrail.failed", payload: { direction: dir, failMode: policy.failClosed ? "closed" : "open", error: (err as Error)?.name ?? "Error" } });
  if (policy.failClosed && needsScan) throw new GatewayError({ status: 503, code: "guardrail_failed", message: "The guardrail scan failed; the request was not passed on unscanned" });
  return false;
}

function blockedError(types: Set<string>, dir: Direction): GatewayError {
  const list = [...types].sort().join(", ");
  return new GatewayError({
    status: 400,
    code: "pii_blocked",
    message: dir === "input" ? `The request contains content this gateway blocks: ${list}` : `The response was withheld: it contains content this gateway blocks: ${list}`,
    details: { types: [...types].sort(), direction: dir },
  });
}

function report(ctx: Ctx, r: Redactor, dir: Direction): void {
  const detected = r.detected[dir];
  if (Object.keys(detected).length) ctx.emit({ type: "guardrail.detected", payload: { direction: dir, types: Object.keys(detected).sort(), counts: detected } });
  const redacted = r.redacted[dir];
  if (Object.keys(redacted).length) ctx.emit({ type: "guardrail.redacted", payload: { direction: dir, types: Object.keys(redacted).sort(), counts: redacted, restore: r.restoring } });
  if (r.blocked[dir].size) ctx.emit({ type: "guardrail.blocked", payload: { direction: dir, types: [...r.blocked[dir]].sort(), counts: detected } });
}

function stateOf(ctx: Ctx, r: Redactor): GuardrailsState {
  const s = (ctx.state[GUARDRAILS_STATE] ??= { redacted: false, restore: false, counts: r.detected }) as GuardrailsState;
  s.restore = r.restoring;
  return s;
}

export function guardrailsPlugin() {
  return definePlugin({
    name: "guardrails",
    version: "1.0.0",
    phases: {
      inspect(ctx) {
        const policy = policyFor(ctx.config.guardrails, ctx.principal.tenant);
        if (!policy || isIdle(policy)) return;
        if (policy.maxInputChars !== undefined) {
          const n = inputChars(ctx.request);
          if (n > policy.maxInputChars) throw new GatewayError({ status: 400, code: "input_too_large", message: `The input has ${n} characters; the limit is ${policy.maxInputChars}`, param: "messages" });
        }
        const r = new Redactor(policy);
        redactors.set(ctx, r);
        const state = stateOf(ctx, r);
        try {
          const before = ctx.request;
          ctx.request = redactRequest(ctx.request, r);
          state.redacted = ctx.request !== before;
          state.restore = r.restoring;
        } catch (err) {
          failed(policy, err, ctx, "input");
        } finally {
          report(ctx, r, "input");
        }
        if (r.blocked.input.size) throw blockedError(r.blocked.input, "input");
      },
      respond(ctx) {
        const r = redactors.get(ctx);
        const answer = ctx.answer;
        if (!r || !answer) return;
        if (answer.kind === "stream") {
          guards.set(ctx, new ChunkGuard(r));
          stateOf(ctx, r).upstreamChunks = [];
          return;
        }
        if (answer.kind !== "response") return;
        try {
          stateOf(ctx, r).upstreamAnswer = answer.response;
          ctx.answer = { ...answer, response: processCompletion(answer.response, r) };
        } catch (err) {
          failed(r.policy, err, ctx, "output");
        } finally {
          report(ctx, r, "output");
        }
        if (r.blocked.output.size) throw blockedError(r.blocked.output, "output");
      },
      onChunk(ctx, chunk) {
        const guard = guards.get(ctx);
        if (!guard) return;
        const r = redactors.get(ctx)!;
        (ctx.state[GUARDRAILS_STATE] as GuardrailsState).upstreamChunks?.push(chunk);
        let out: ReturnType<ChunkGuard["transform"]>;
        try {
          out = guard.transform(chunk);
        } catch (err) {
          failed(r.policy, err, ctx, "output");
          return;
        }
        if (r.blocked.output.size) throw blockedError(r.blocked.output, "output");
        return out;
      },
      onEnd(ctx) {
        const r = redactors.get(ctx);
        if (!r) return;
        const guard = guards.get(ctx);
        if (guard) {
          stateOf(ctx, r).maxHeldChars = guard.maxHeld;
          report(ctx, r, "output");
        }
      },
    },
  });
}
