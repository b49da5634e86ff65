/**
 * The per-request context handed to every hook.
 */
import type { ChatCompletionRequest, Usage } from "../canonical/chat.ts";
import type { EmbeddingsRequest } from "../canonical/embeddings.ts";
import type { ResponsesRequest } from "../canonical/responses.ts";
import type { TargetCheck } from "../canonical/responses-request.ts";
import type { ConfigSnapshot, RouteConfig } from "../config/snapshot.ts";
import type { NewEvent } from "../events/envelope.ts";
import type { ProviderAdapter } from "../providers/types.ts";
import type { GatewayError } from "./errors.ts";
import type { Answer } from "./plugin.ts";

export interface Principal {
  tenant: string;
  keyId?: string;
  /** The visible prefix of the virtual key (never the key). */
  keyPrefix?: string;
  service?: string;
  user?: string;
}

export interface Target {
  provider: ProviderAdapter;
  /** The provider's model id. */
  model: string;
  /** What the client asked for (alias or model). */
  requested: string;
}

/** How the request ended, given to onEnd hooks and recorded in `request.completed`. */
export interface Outcome {
  status: "ok" | "error" | "client_disconnected";
  httpStatus: number;
  usage: Usage;
  error?: GatewayError;
  /** ms from receipt to the first streamed chunk (streams only). */
  ttftMs?: number;
  latencyMs: number;
}

/** An event as a hook emits it: tenant, request id and trace id are filled in. */
export type RequestEvent = Omit<NewEvent, "tenant" | "requestId" | "traceId" | "configVersion">;

export interface ProviderLookup {
  get(id: string): ProviderAdapter | undefined;
  list(): ProviderAdapter[];
}

export interface Ctx {
  readonly requestId: string;
  readonly traceId?: string;
  /** `performance.now()` at receipt. */
  readonly startedAt: number;
  /** Which API the client used. */
  readonly endpoint: "chat.completions" | "generate" | (string & {});
  /** The canonical request; hooks may change it (the provider sees the result). */
  request: ChatCompletionRequest;
  /**
   * `embeddings`: `request.messages` holds the text inputs as user messages (so input plugins
   * see and may redact them) and `embeddings` the original request.
   */
  readonly operation: "chat" | "embeddings";
  embeddings?: EmbeddingsRequest;
  /**
   * `/v1/responses`: the client's Responses request (passed through to providers that speak
   * Responses) and the fields only some provider kinds can honour (others answer 400).
   */
  responses?: { request: ResponsesRequest; checks: readonly TargetCheck[] };
  readonly stream: boolean;
  principal: Principal;
  /** Free-form request attributes (service, task type, user id) from the client. */
  meta: { service?: string; taskType?: string; user?: string };
  readonly config: ConfigSnapshot;
  readonly providers: ProviderLookup;
  /** Set by the route phase: the target to try first. */
  target?: Target;
  /** Set by the route phase: every target in the order to try them (fallbacks after the first). */
  targets?: Target[];
  /** The route the request follows (absent for a plain model name without a route). */
  route?: RouteConfig;
  /** Set by whichever hook answered (call phase, or early by a cache). */
  answer?: Answer;
  answeredBy?: string;
  /** Upstream calls made (retries and fallbacks included; 0 when answered without one). */
  attempts: number;
  /** Cost of the request in USD, set by whoever knows the price (0 when unknown). */
  costUsd: number;
  /** The same cost in integer nano-dollars: the authority when set (see `pipeline/cost.ts` setCostNanos). */
  costNanos?: number;
  /** What the request did not spend because a cache answered it, USD at today's price. */
  savedUsd?: number;
  /** The same saving in integer nano-dollars. */
  savedNanos?: number;
  /** Aborted when the client disconnects; pass to upstream calls. */
  readonly signal: AbortSignal;
  /** Per-phase time in ms. */
  readonly timings: Record<string, number>;
  /** Scratch space for plugins, namespaced by plugin name by convention. */
  readonly state: Record<string, unknown>;
  /** Headers plugins add to the response (e.g. `x-ratelimit-*`); error responses carry them too. */
  readonly responseHeaders: Record<string, string>;
  /** Record a fact on the requests stream (never awaits the log). */
  emit(event: RequestEvent): void;
  /**
   * Work an onEnd hook started and did not await (the limits plugin's settle): the answer does
   * not wait for it, a stop does (`Pipeline.active` counts the request until it is done).
   */
  after?: Promise<unknown>[];
}
