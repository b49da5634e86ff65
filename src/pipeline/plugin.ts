/**
 * The plugin contract. Built-in steps (src/plugins) and operators' plugins (plugins/) use
 * exactly this; there is no private back door.
 *
 * ```
 *  request ─► authenticate ─► admit ─► inspect ─► lookup ─► route ─► call ─► respond ─► client
 *               (auth)       (rate,   (guard-    (cache)   (pick    (pro-   (onChunk per chunk,
 *                            budget)   rails in)            target)  vider)  onEnd once at the end)
 *   any hook may throw a GatewayError ──► onError hooks ──► error response; onEnd still runs
 *   a hook before `call` may return an Answer (e.g. a cache hit) ──► skips straight to respond
 * ```
 */
import type { TSchema } from "@sinclair/typebox";
import type { ChatCompletion, ChatCompletionChunk } from "../canonical/chat.ts";
import type { EmbeddingsResponse } from "../canonical/embeddings.ts";
import type { Ctx, Outcome } from "./context.ts";
import type { GatewayError } from "./errors.ts";

/** Phases before the answer exists, in order. A hook here may answer early. */
export const REQUEST_PHASES = ["authenticate", "admit", "inspect", "lookup", "route", "call"] as const;
export type RequestPhase = (typeof REQUEST_PHASES)[number];
/** All phases, in order, plus the error hook. */
export const PHASES = [...REQUEST_PHASES, "respond"] as const;
export type Phase = (typeof PHASES)[number] | "onError";

/** An early or final answer: a whole completion, or a stream of chunks. */
export type Answer =
  | { kind: "response"; response: ChatCompletion; cached?: boolean }
  | { kind: "embeddings"; response: EmbeddingsResponse; cached?: boolean }
  | { kind: "stream"; chunks: AsyncIterable<ChatCompletionChunk>; cached?: boolean };

type MaybePromise<T> = T | Promise<T>;
/** A request-phase hook: change ctx, return an Answer to answer early, or throw a GatewayError. */
export type RequestHook = (ctx: Ctx) => MaybePromise<Answer | void | undefined>;

export interface PluginHooks {
  authenticate?: RequestHook;
  admit?: RequestHook;
  inspect?: RequestHook;
  lookup?: RequestHook;
  route?: RequestHook;
  call?: RequestHook;
  /** Once the answer exists, before anything is sent. May replace `ctx.answer`. */
  respond?: (ctx: Ctx) => MaybePromise<void>;
  /** Per streamed chunk, in order: return a (possibly changed) chunk, or null to drop it. */
  onChunk?: (ctx: Ctx, chunk: ChatCompletionChunk) => MaybePromise<ChatCompletionChunk | null | void>;
  /** Exactly once per request at the very end: success, error, or client disconnect. */
  onEnd?: (ctx: Ctx, outcome: Outcome) => MaybePromise<void>;
  /** When a hook or the provider failed. Observes; cannot swallow the error. */
  onError?: (ctx: Ctx, error: GatewayError) => MaybePromise<void>;
}

export interface Plugin<C = unknown> {
  name: string;
  version: string;
  /** Ordering inside a phase: `pre` plugins run first, `post` last, the rest in load order. */
  enforce?: "pre" | "post";
  phases: PluginHooks;
  /** TypeBox schema of the plugin's settings (validated when the plugin is configured). */
  configSchema?: TSchema;
  /** The plugin's settings (validated against configSchema by the loader). */
  config?: C;
}

/**
 * Define a pipeline plugin (built-ins and single-file operator plugins: hooks get the full ctx).
 * Identity function that gives type checking and validates the shape. Operators import it as
 * `definePipelinePlugin` from "tollgate/pipeline"; folder plugins use `definePlugin({ hooks })`
 * from "tollgate/plugin" instead (a restricted ctx).
 *
 * @example
 * export default definePipelinePlugin({
 *   name: "tag-service",
 *   version: "1.0.0",
 *   phases: {
 *     inspect(ctx) { ctx.request.metadata = { ...ctx.request.metadata, tagged: "yes" }; },
 *   },
 * });
 */
export function definePipelinePlugin<C = unknown>(plugin: Plugin<C>): Plugin<C> {
  if (!plugin || typeof plugin.name !== "string" || !/^[a-z0-9][a-z0-9._-]*$/i.test(plugin.name)) {
    throw new TypeError("definePlugin: `name` must be a non-empty identifier");
  }
  if (typeof plugin.version !== "string" || plugin.version.length === 0) {
    throw new TypeError(`definePlugin(${plugin.name}): \`version\` is required`);
  }
  if (!plugin.phases || typeof plugin.phases !== "object") {
    throw new TypeError(`definePlugin(${plugin.name}): \`phases\` must be an object of hooks`);
  }
  const known = new Set<string>([...PHASES, "onChunk", "onEnd", "onError"]);
  for (const [key, hook] of Object.entries(plugin.phases)) {
    if (!known.has(key)) throw new TypeError(`definePlugin(${plugin.name}): unknown phase \`${key}\``);
    if (typeof hook !== "function") throw new TypeError(`definePlugin(${plugin.name}): phase \`${key}\` must be a function`);
  }
  return plugin;
}

/** The built-ins' name for {@link definePipelinePlugin} (same function). */
export const definePlugin = definePipelinePlugin;
