/**
 * The published API for operators' plugins (a folder in `plugins/`): `definePlugin`,
 * `defineManifest`, and the restricted context a hook receives. A plugin written against this
 * API sees the request it may change, its own settings, its own key-value store scoped to the
 * tenant, and `emit` / `log` / `span` — never provider keys, other tenants' data or other
 * plugins' stores. See docs/plugins.md.
 */
import type { Static, TSchema } from "@sinclair/typebox";
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from "../../canonical/chat.ts";
import type { PluginManifestInput } from "./manifest.ts";

export type { PluginManifestInput };
type MaybePromise<T> = T | Promise<T>;

/** A key-value store scoped to (plugin, tenant): other plugins and tenants cannot reach it. */
export interface PluginKv {
  get(key: string): Promise<string | null>;
  /** Store a value; `ttlMs` makes it expire (on memory and Redis alike). */
  set(key: string, value: string, opts?: { ttlMs?: number }): Promise<void>;
  del(key: string): Promise<void>;
}

/** An event a plugin emits: recorded as `plugin.<name>.<type>` on the requests stream. */
export interface PluginEvent {
  /** A short past-tense name: letters, digits, `_`, `.` (e.g. `keyword.blocked`). */
  type: string;
  payload: Record<string, unknown>;
}

export interface PluginLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** What a hook sees of the request: a plain-data view (it crosses into worker threads as is). */
export interface PluginContext<S = Record<string, unknown>> {
  readonly plugin: string;
  readonly requestId: string;
  readonly endpoint: string;
  readonly operation: "chat" | "embeddings";
  readonly stream: boolean;
  /** The canonical request (OpenAI shape). Hooks before `call` may change it; the provider sees the result. */
  request: ChatCompletionRequest;
  readonly tenant: string;
  readonly service?: string;
  readonly user?: string;
  readonly taskType?: string;
  /** The chosen target once routed (provider id and model, never its key). */
  readonly target?: { provider: string; model: string; requested: string };
  /**
   * Read-only facts of the config this request is decided under: the price of the target model
   * (USD per million tokens) and the estimated prompt tokens.
   */
  readonly config: { readonly price?: { input: number; output: number }; readonly promptTokens: number; readonly version: number };
  /** This plugin's settings for this tenant (defaults ← global ← tenant), frozen. */
  readonly settings: Readonly<S>;
  /** Cost so far in USD (set at the end of the request; 0 before). */
  readonly costUsd: number;
  readonly kv: PluginKv;
  emit(event: PluginEvent): void;
  readonly log: PluginLog;
  /** Time a piece of work; the duration is recorded in the request's timings as `plugin.<name>.<label>`. */
  span<T>(label: string, fn: () => MaybePromise<T>): Promise<T>;
}

/** An event the gateway recorded for this request, delivered to `onEvent` (after the fact). */
export interface ObservedEvent {
  type: string;
  tenant: string;
  requestId?: string;
  time: string;
  payload: Record<string, unknown>;
}

/** What a hook may throw to refuse a request with a stable code (anything else counts as a failure). */
export interface PluginRefusal {
  status: number;
  code: string;
  message: string;
  param?: string;
}

export interface PluginOutcome {
  status: "ok" | "error" | "client_disconnected";
  httpStatus: number;
  errorCode?: string;
  costUsd: number;
  latencyMs: number;
}

export interface OperatorHooks<S> {
  authenticate?: (ctx: PluginContext<S>) => MaybePromise<ChatCompletion | void>;
  admit?: (ctx: PluginContext<S>) => MaybePromise<ChatCompletion | void>;
  inspect?: (ctx: PluginContext<S>) => MaybePromise<ChatCompletion | void>;
  lookup?: (ctx: PluginContext<S>) => MaybePromise<ChatCompletion | void>;
  route?: (ctx: PluginContext<S>) => MaybePromise<ChatCompletion | void>;
  /** Per streamed chunk: return a changed chunk, `null` to drop it, nothing to keep it. */
  onChunk?: (ctx: PluginContext<S>, chunk: ChatCompletionChunk) => MaybePromise<ChatCompletionChunk | null | void>;
  /** Once per request, at the end. */
  onEnd?: (ctx: PluginContext<S>, outcome: PluginOutcome) => MaybePromise<void>;
  /** Events the manifest subscribes to (`events`), after they were recorded; never delays a response. */
  onEvent?: (ctx: Omit<PluginContext<S>, "request">, event: ObservedEvent) => MaybePromise<void>;
}

export interface OperatorPluginDefinition<S = Record<string, unknown>> {
  hooks: OperatorHooks<S>;
  /** Called once when the gateway stops (flush, close timers). */
  stop?: () => MaybePromise<void>;
}

/**
 * Define the entry module of a folder plugin (its `index.ts`).
 *
 * @example
 * export default definePlugin<{ words: string[] }>({
 *   hooks: {
 *     inspect(ctx) {
 *       const text = JSON.stringify(ctx.request.messages);
 *       if (ctx.settings.words.some((w) => text.includes(w))) throw refuse(400, "word_blocked", "Blocked by policy");
 *     },
 *   },
 * });
 */
export function definePlugin<S = Record<string, unknown>>(def: OperatorPluginDefinition<S>): OperatorPluginDefinition<S> {
  if (!def || typeof def !== "object" || !def.hooks || typeof def.hooks !== "object") throw new TypeError("definePlugin: `hooks` must be an object of functions");
  for (const [k, v] of Object.entries(def.hooks)) if (typeof v !== "function") throw new TypeError(`definePlugin: hook \`${k}\` must be a function`);
  return def;
}

/** Define the manifest (`manifest.ts`): checked by the loader; typed settings via TypeBox. */
export function defineManifest<S extends TSchema>(m: PluginManifestInput & { settings?: S }): PluginManifestInput & { settings?: S } {
  return m;
}
export type SettingsOf<S extends TSchema> = Static<S>;

/** A refusal with a stable code: the client gets `status` and `{ error: { code, message } }`. */
export class PluginRefusalError extends Error implements PluginRefusal {
  override name = "PluginRefusalError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly param?: string,
  ) {
    super(message);
  }
}
/** Refuse the request (4xx) with a stable code. */
export function refuse(status: number, code: string, message: string, param?: string): PluginRefusalError {
  return new PluginRefusalError(status, code, message, param);
}

/** TypeBox, re-exported so a plugin's manifest needs no import of its own. */
export { Type } from "@sinclair/typebox";
/** Webhook signing (HMAC-SHA256 over `<t>.<body>`), the scheme the gateway's own webhooks use. */
export { SIGNATURE_HEADER, signatureHeader, verifySignature } from "./webhook-signature.ts";
