/**
 * The provider adapter contract: canonical (OpenAI Chat Completions) in, canonical out.
 *
 * An adapter translates the canonical request to its provider's wire format, calls it with
 * the runtime's `fetch`, and translates the answer back. Errors are thrown as GatewayError
 * (502 `upstream_error`, 504 `upstream_timeout`, or the provider's own 4xx passed through).
 */
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from "../canonical/chat.ts";
import type { EmbeddingsRequest, EmbeddingsResponse } from "../canonical/embeddings.ts";

export interface ProviderCallOptions {
  /** The provider's own model id (after alias resolution). */
  model: string;
  /** Aborted when the client goes away or a deadline passes: the upstream call must stop. */
  signal: AbortSignal;
  /** Per-attempt timeout in ms until the first byte / full response (optional). */
  timeoutMs?: number;
  /** Extra headers for this attempt only: the trace context (`traceparent`, `tracestate`). */
  headers?: Record<string, string>;
}

export interface ProviderAdapter {
  /** Registry id, e.g. `openai`, `echo`, `local-vllm`. */
  readonly id: string;
  /** Adapter kind, e.g. `openai`, `echo`. */
  readonly kind: string;
  /** Models this provider serves (ids as the provider knows them). */
  readonly models: readonly string[];
  /** Non-streaming completion. `usage` must be present. */
  complete(req: ChatCompletionRequest, opts: ProviderCallOptions): Promise<ChatCompletion>;
  /**
   * Streaming completion as canonical chunks. The last chunk carries `usage`
   * (adapters ask the upstream for it, e.g. `stream_options.include_usage`).
   * Returning from the iterator early (client gone) must cancel the upstream request.
   */
  stream(req: ChatCompletionRequest, opts: ProviderCallOptions): AsyncIterable<ChatCompletionChunk>;
  /** Embeddings, for providers that offer them (absent = not supported). */
  embed?(req: EmbeddingsRequest, opts: ProviderCallOptions): Promise<EmbeddingsResponse>;
  /** Providers that speak the OpenAI Responses API (OpenAI, Azure OpenAI): absent = translated through chat. */
  responses?: ResponsesCalls;
}

/** A Responses request body in (`model` and `stream` are set from the call), the answer in canonical form. */
export interface ResponsesCalls {
  complete(body: Record<string, unknown>, opts: ProviderCallOptions): Promise<ChatCompletion>;
  stream(body: Record<string, unknown>, opts: ProviderCallOptions): AsyncIterable<ChatCompletionChunk>;
}

export const PROVIDER_KINDS = ["openai", "echo", "anthropic", "gemini", "mistral", "together", "azure", "custom"] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

/** Declarative provider config (from env or the bootstrap file). */
export interface ProviderConfig {
  id: string;
  kind: ProviderKind;
  baseUrl?: string;
  apiKey?: string;
  models: string[];
  /** Extra headers sent upstream (e.g. OpenAI-Organization). */
  headers?: Record<string, string>;
  /** Per-attempt timeout in ms (default 60 s). */
  timeoutMs?: number;
  /** echo only: delay between streamed chunks, ms (default 0). */
  chunkDelayMs?: number;
  /** azure only: the `api-version` query parameter (e.g. `2024-10-21`). */
  apiVersion?: string;
  /** azure only: model id → deployment name (default: the model id is the deployment name). */
  deployments?: Record<string, string>;
  /** Upstream quota protection: requests / tokens per minute (enforced by the limits plugin). */
  rpmLimit?: number;
  tpmLimit?: number;
}
