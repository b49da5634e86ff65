/**
 * The plugin host: runs operators' folder plugins inside the pipeline as ONE built-in-shaped
 * plugin (`operator-plugins`), so runner.ts stays unaware of them. Per request it picks the
 * plugins enabled for the tenant (config snapshot), in order, with their merged settings, and
 * calls each hook through PluginRuntime.guardedCall (timeout, failure policy, breaker).
 * Built-in plugins never pass through here: they keep zero overhead.
 */
import type { Ctx, RequestEvent } from "../context.ts";
import type { Answer, Plugin, PluginHooks } from "../plugin.ts";
import type { ChatCompletion, ChatCompletionChunk } from "../../canonical/chat.ts";
import { effectiveSettings, enabledFor, type PluginsSnapshot } from "../../projections/config/plugins.ts";
import type { StateStore } from "../../stores/state-store.ts";
import type { ObservedEvent, PluginOutcome } from "./api.ts";
import type { BreakerOptions } from "./guard.ts";
import type { HookName, Manifest } from "./manifest.ts";
import { orderOperatorPlugins } from "./order.ts";
import { type FailureRecord, type Invoker, PluginRuntime } from "./runtime.ts";

export const HOST_NAME = "operator-plugins";

interface Active {
  rt: PluginRuntime;
  settings: Readonly<Record<string, unknown>>;
  timeoutMs: number;
}

export interface LoadFailure {
  name: string;
  source: string;
  reason: string;
  time: string;
}

export interface HostOptions {
  store: StateStore;
  /** Record an event outside a request (load failures). */
  emitSystem?: (e: { type: string; payload: Record<string, unknown> }) => void;
  breaker?: BreakerOptions;
  quiet?: boolean;
}

export class PluginHost {
  readonly runtimes = new Map<string, PluginRuntime>();
  readonly failures: LoadFailure[] = [];
  private ordered: PluginRuntime[] = [];
  private cacheVersion = -1;
  private cacheSnap: PluginsSnapshot | undefined;
  private readonly perTenant = new Map<string, Active[]>();
  private readonly hosted = new Set<PluginRuntime>();
  private usesCache: Set<string> | undefined;

  constructor(readonly opts: HostOptions) {}

  /** Register a loaded plugin; `hosted` plugins run through {@link plugin}, the others guard themselves (single-file form). */
  add(manifest: Manifest, invoker: Invoker, source: string, hosted = true): PluginRuntime {
    const rt = new PluginRuntime(manifest, invoker, source, this.runtimeEvents, this.opts.breaker);
    this.runtimes.set(manifest.name, rt);
    if (hosted) this.hosted.add(rt);
    this.cacheVersion = -1;
    return rt;
  }

  /** Report a plugin that did not load: log line, `plugin.failed` event, admin listing. */
  failed(name: string, source: string, reason: string): void {
    this.failures.push({ name, source, reason, time: new Date().toISOString() });
    console.error(`[plugins] ${name} (${source}) not loaded: ${reason}`);
    this.opts.emitSystem?.({ type: "plugin.failed", payload: { plugin: name, stage: "load", reason: reason.slice(0, 300) } });
  }

  private readonly runtimeEvents = {
    onFailure: (rt: PluginRuntime, ctx: Ctx | undefined, f: FailureRecord) => {
      if (!this.opts.quiet) console.warn(`[plugins] ${rt.name}.${f.hook} failed (${f.reason}, ${f.error}); policy ${rt.manifest.failurePolicy}`);
      ctx?.emit({ type: "plugin.failed", payload: { plugin: rt.name, stage: "hook", hook: f.hook, reason: f.reason, error: f.error, policy: rt.manifest.failurePolicy } });
    },
    onBreaker: (rt: PluginRuntime, ctx: Ctx | undefined, state: "open" | "closed") => {
      console.warn(`[plugins] ${rt.name}: breaker ${state === "open" ? "opened: plugin switched off, retried later" : "closed: plugin back on"}`);
      ctx?.emit({ type: state === "open" ? "plugin.breaker_opened" : "plugin.breaker_closed", payload: { plugin: rt.name } });
    },
  };

  /** The plugins that run for this request's tenant, in order, with their settings. */
  active(ctx: Ctx): Active[] {
    const snap = ctx.config;
    if (snap.version !== this.cacheVersion || snap.plugins !== this.cacheSnap) {
      this.cacheVersion = snap.version;
      this.cacheSnap = snap.plugins;
      this.perTenant.clear();
      const items = [...this.hosted].map((rt) => ({ name: rt.name, before: rt.manifest.before, after: rt.manifest.after, order: snap.plugins?.global[rt.name]?.order, rt }));
      const { ordered, cycles } = orderOperatorPlugins(items);
      this.ordered = ordered.map((x) => x.rt);
      if (cycles.length) console.warn(`[plugins] before/after hints form a cycle (${cycles.join(", ")}): those hints are ignored`);
    }
    const tenant = ctx.principal.tenant;
    let list = this.perTenant.get(tenant);
    if (!list) {
      list = this.ordered
        .filter((rt) => enabledFor(rt.manifest.defaultEnabled, snap.plugins, rt.name, tenant))
        .map((rt) => ({
          rt,
          settings: Object.freeze(effectiveSettings(rt.manifest.defaultSettings, snap.plugins, rt.name, tenant)),
          timeoutMs: snap.plugins?.global[rt.name]?.timeoutMs ?? rt.manifest.timeoutMs,
        }));
      this.perTenant.set(tenant, list);
    }
    return list;
  }

  /** The order plugins run in under a snapshot (admin listing). */
  orderUnder(snap: PluginsSnapshot | undefined): string[] {
    const items = [...this.hosted].map((rt) => ({ name: rt.name, before: rt.manifest.before, after: rt.manifest.after, order: snap?.global[rt.name]?.order }));
    return orderOperatorPlugins(items).ordered.map((x) => x.name);
  }

  private uses(hook: HookName): boolean {
    this.usesCache ??= new Set([...this.hosted].flatMap((rt) => rt.manifest.phases));
    return this.usesCache.has(hook);
  }

  /**
   * The pipeline plugin that runs every operator plugin. Only the hooks some plugin declares
   * exist, so a gateway without operator plugins gets no extra call at all.
   */
  plugin(): Plugin {
    this.usesCache = undefined;
    const hooks: PluginHooks = {};
    for (const phase of ["authenticate", "admit", "inspect", "lookup", "route"] as const) {
      if (this.uses(phase) || (phase === "authenticate" && this.uses("onEvent"))) hooks[phase] = (ctx) => this.runPhase(ctx, phase);
    }
    if (this.uses("onChunk")) hooks.onChunk = (ctx, chunk) => this.runChunk(ctx, chunk);
    if (this.uses("onEnd")) hooks.onEnd = (ctx, o) => this.runEnd(ctx, { status: o.status, httpStatus: o.httpStatus, ...(o.error ? { errorCode: o.error.code } : {}), costUsd: ctx.costUsd, latencyMs: o.latencyMs });
    return { name: HOST_NAME, version: "1", phases: hooks };
  }

  private async runPhase(ctx: Ctx, phase: HookName): Promise<Answer | undefined> {
    if (phase === "authenticate" && this.uses("onEvent")) this.tapEvents(ctx);
    if (!this.uses(phase)) return undefined;
    for (const a of this.active(ctx)) {
      if (!a.rt.has(phase)) continue;
      const out = (await a.rt.guardedCall(phase, ctx, a.settings, [], a.timeoutMs)) as ChatCompletion | undefined;
      if (out && typeof out === "object" && Array.isArray(out.choices)) {
        ctx.answeredBy = a.rt.name;
        // A streaming client gets the early answer as a stream (one content chunk, then the end).
        return ctx.stream ? { kind: "stream", chunks: asChunks(out) } : { kind: "response", response: out };
      }
    }
    return undefined;
  }

  private async runChunk(ctx: Ctx, chunk: ChatCompletionChunk): Promise<ChatCompletionChunk | null> {
    let c: ChatCompletionChunk | null = chunk;
    for (const a of this.active(ctx)) {
      if (!a.rt.has("onChunk") || !c) continue;
      const out = (await a.rt.guardedCall("onChunk", ctx, a.settings, [c], a.timeoutMs)) as ChatCompletionChunk | null | undefined;
      if (out === null) c = null;
      else if (out) c = out;
    }
    return c;
  }

  private async runEnd(ctx: Ctx, outcome: PluginOutcome): Promise<void> {
    for (const a of this.active(ctx)) {
      if (a.rt.has("onEnd")) await a.rt.guardedCall("onEnd", ctx, a.settings, [outcome], a.timeoutMs);
    }
  }

  /** Deliver the request's later events to subscribed plugins' `onEvent`, after the fact. */
  private tapEvents(ctx: Ctx): void {
    const subscribers = this.active(ctx).filter((a) => a.rt.has("onEvent") && a.rt.manifest.events.length);
    if (!subscribers.length) return;
    const emit = ctx.emit.bind(ctx);
    ctx.emit = (e: RequestEvent) => {
      emit(e);
      // Plugins' own events (plugin.failed, plugin.<name>.*) are never delivered: no feedback loops.
      if (e.type.startsWith("plugin.")) return;
      const wanted = subscribers.filter((a) => a.rt.manifest.events.some((p) => (p.endsWith(".*") ? e.type.startsWith(p.slice(0, -1)) : p === e.type)));
      if (!wanted.length) return;
      const observed: ObservedEvent = { type: e.type, tenant: ctx.principal.tenant, requestId: ctx.requestId, time: new Date().toISOString(), payload: structuredClone(e.payload) };
      setImmediate(() => {
        for (const a of wanted) void a.rt.guardedCall("onEvent", ctx, a.settings, [observed], a.timeoutMs).catch(() => {});
      });
    };
  }

  /** Admin listing: every plugin, loaded or not. */
  list(snap: PluginsSnapshot | undefined) {
    const order = this.orderUnder(snap);
    const names = [...order, ...[...this.runtimes.keys()].filter((n) => !order.includes(n))];
    const loaded = names.map((name) => {
      const rt = this.runtimes.get(name)!;
      const m = rt.manifest;
      const tenants = Object.entries(snap?.tenant ?? {}).filter(([, ps]) => ps[name]?.enabled !== undefined).map(([t, ps]) => ({ tenant: t, enabled: ps[name]!.enabled! }));
      return {
        name,
        version: m.version,
        description: m.description,
        source: rt.source,
        status: rt.breaker.state === "closed" ? "active" : "switched_off",
        isolation: m.isolation,
        failure_policy: m.failurePolicy,
        timeout_ms: snap?.global[name]?.timeoutMs ?? m.timeoutMs,
        phases: m.phases,
        before: m.before,
        after: m.after,
        position: order.includes(name) ? order.indexOf(name) : null,
        enabled: { default: m.defaultEnabled, global: snap?.global[name]?.enabled ?? null, tenants },
        /** The settings' JSON Schema (TypeBox): the console draws its settings form from it. */
        settings_schema: m.settings ?? null,
        settings: { global: snap?.global[name]?.settings ?? null },
        breaker: { state: rt.breaker.state, failures_to_open: rt.breaker.failuresToOpen, open_ms: rt.breaker.openMs },
        failures: rt.failures,
        restarts: rt.invoker.restarts ?? 0,
        last_errors: rt.lastErrors,
        timings: rt.stats.summary(),
      };
    });
    const failed = this.failures.map((f) => ({ name: f.name, source: f.source, status: "failed" as const, reason: f.reason, time: f.time }));
    return { plugins: loaded, failed };
  }

  async stop(): Promise<void> {
    await Promise.all([...this.runtimes.values()].map((rt) => rt.invoker.stop().catch(() => {})));
  }
}

/** A whole completion as the chunks a stream of it would have had. */
async function* asChunks(c: ChatCompletion): AsyncGenerator<ChatCompletionChunk> {
  const base = { id: c.id, object: "chat.completion.chunk" as const, created: c.created, model: c.model };
  yield { ...base, choices: c.choices.map((ch) => ({ index: ch.index, delta: { role: "assistant" as const, content: typeof ch.message.content === "string" ? ch.message.content : "" }, finish_reason: null })) };
  yield { ...base, choices: c.choices.map((ch) => ({ index: ch.index, delta: {}, finish_reason: ch.finish_reason ?? "stop" })), ...(c.usage ? { usage: c.usage } : {}) };
}
