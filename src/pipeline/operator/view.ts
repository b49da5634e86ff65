/**
 * The restricted context a folder plugin's hook receives (PluginContext), built from the
 * gateway's Ctx. It carries no provider adapters, no full config snapshot (which holds provider
 * keys), no other plugin's state: only what docs/plugins.md promises.
 */
import type { Ctx } from "../context.ts";
import { promptTokensOf } from "../prompt-tokens.ts";
import type { PluginContext, PluginEvent, PluginKv, PluginLog } from "./api.ts";

const EVENT_TYPE = /^[a-z0-9_]+(\.[a-z0-9_]+){0,3}$/;
const MAX_EVENT_BYTES = 8 * 1024;

/** Check a plugin event and return its namespaced form; throws TypeError when invalid. */
export function namespacedEvent(plugin: string, e: PluginEvent): { type: string; payload: Record<string, unknown> } {
  if (!e || typeof e.type !== "string" || !EVENT_TYPE.test(e.type)) throw new TypeError(`emit: event type must match ${EVENT_TYPE} (e.g. \`keyword.blocked\`)`);
  if (!e.payload || typeof e.payload !== "object" || Array.isArray(e.payload)) throw new TypeError("emit: payload must be an object");
  let json: string;
  try {
    json = JSON.stringify(e.payload);
  } catch {
    throw new TypeError("emit: payload must be JSON-serializable");
  }
  if (json.length > MAX_EVENT_BYTES) throw new TypeError(`emit: payload over ${MAX_EVENT_BYTES} bytes`);
  return { type: `plugin.${plugin}.${e.type}`, payload: JSON.parse(json) as Record<string, unknown> };
}

export function pluginLog(plugin: string, tenant: string): PluginLog {
  const line = (message: string, fields?: Record<string, unknown>) => `[plugin:${plugin}] ${String(message)}${fields ? ` ${safeJson({ tenant, ...fields })}` : ` {"tenant":${JSON.stringify(tenant)}}`}`;
  return {
    info: (m, f) => console.log(line(m, f)),
    warn: (m, f) => console.warn(line(m, f)),
    error: (m, f) => console.error(line(m, f)),
  };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return "{}";
  }
}

/** Facts of the config a plugin may read: the target's price and the prompt size. */
export function configFacts(ctx: Ctx): PluginContext["config"] {
  const p = ctx.target ? ctx.config.prices[`${ctx.target.provider.id}/${ctx.target.model}`] : undefined;
  return Object.freeze({ ...(p ? { price: { input: p.input, output: p.output } } : {}), promptTokens: promptTokensOf(ctx), version: ctx.config.version });
}

export interface ViewDeps {
  plugin: string;
  settings: Readonly<Record<string, unknown>>;
  kv: PluginKv;
}

/** A live view over ctx for an inline hook: `request` reads and writes through to ctx. */
export function inlineView(ctx: Ctx, deps: ViewDeps): PluginContext {
  const { plugin } = deps;
  let log: PluginLog | undefined;
  return {
    plugin,
    requestId: ctx.requestId,
    endpoint: ctx.endpoint,
    operation: ctx.operation,
    stream: ctx.stream,
    get request() {
      return ctx.request;
    },
    set request(r) {
      ctx.request = r;
    },
    get tenant() {
      return ctx.principal.tenant;
    },
    get service() {
      return ctx.meta.service ?? ctx.principal.service;
    },
    get user() {
      return ctx.meta.user ?? ctx.principal.user;
    },
    get taskType() {
      return ctx.meta.taskType;
    },
    get target() {
      return ctx.target ? { provider: ctx.target.provider.id, model: ctx.target.model, requested: ctx.target.requested } : undefined;
    },
    get config() {
      return configFacts(ctx);
    },
    settings: deps.settings,
    get costUsd() {
      return ctx.costUsd;
    },
    kv: deps.kv,
    emit(e) {
      ctx.emit(namespacedEvent(plugin, e));
    },
    get log() {
      return (log ??= pluginLog(plugin, ctx.principal.tenant));
    },
    async span(label, fn) {
      const t0 = performance.now();
      try {
        return await fn();
      } finally {
        ctx.timings[`plugin.${plugin}.${label}`] = Math.round((performance.now() - t0) * 100) / 100;
      }
    },
  };
}

/** The same view as plain data, for a worker thread (functions are rebuilt on the other side). */
export function viewData(ctx: Ctx, plugin: string, settings: Readonly<Record<string, unknown>>) {
  return {
    plugin,
    requestId: ctx.requestId,
    endpoint: ctx.endpoint,
    operation: ctx.operation,
    stream: ctx.stream,
    request: ctx.request,
    tenant: ctx.principal.tenant,
    service: ctx.meta.service ?? ctx.principal.service,
    user: ctx.meta.user ?? ctx.principal.user,
    taskType: ctx.meta.taskType,
    target: ctx.target ? { provider: ctx.target.provider.id, model: ctx.target.model, requested: ctx.target.requested } : undefined,
    config: configFacts(ctx),
    settings,
    costUsd: ctx.costUsd,
  };
}
export type ViewData = ReturnType<typeof viewData>;
