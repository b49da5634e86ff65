/**
 * Adapter for Anthropic's Messages API (`POST {base}/v1/messages`). Canonical requests are
 * translated by `translate.ts`, streams by `stream.ts`; this module is the HTTP shell:
 * headers, timeouts, cancellation, and mapping failures to ProviderErrors.
 */
import { type Attempt, startAttempt } from "../attempt.ts";
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from "../../canonical/chat.ts";
import { GatewayError } from "../../pipeline/errors.ts";
import { ProviderError, providerHttpError } from "../errors.ts";
import { parseSSE } from "../sse.ts";
import type { ProviderAdapter, ProviderCallOptions, ProviderConfig } from "../types.ts";
import { invalidResponse, parseEventData, translateAnthropicStream, upstreamErrorEvent } from "./stream.ts";
import { fromAnthropicMessage, isAnthropicMessage, toAnthropicRequest, type AnthropicRequest } from "./translate.ts";

export { fromAnthropicMessage, toAnthropicRequest } from "./translate.ts";
export { translateAnthropicStream } from "./stream.ts";

const DEFAULT_BASE_URL = "https://api.anthropic.com";
/** The Messages API version this adapter speaks. */
export const ANTHROPIC_VERSION = "2023-06-01";

/**
 * Creates an adapter for Anthropic's Messages API.
 *
 * Requests go to `${cfg.baseUrl ?? "https://api.anthropic.com"}/v1/messages` with
 * `x-api-key`, `anthropic-version: 2023-06-01` and `cfg.headers` (e.g. `anthropic-beta`).
 * The per-attempt timeout (`opts.timeoutMs`, else `cfg.timeoutMs`, else 60 s) covers the
 * wait for response headers (and the whole body when not streaming) → 504 `upstream_timeout`.
 * HTTP errors are read from Anthropic's `{"type":"error","error":{type,message}}` body and
 * mapped by `providerHttpError` (529 → `upstream_overloaded`, `retry-after` honored; for
 * 400/404/413 the Anthropic error type, e.g. `invalid_request_error`, is the code).
 * When `opts.signal` aborts, the upstream request is cancelled and the signal's reason rethrown.
 * Anthropic has no embeddings endpoint, so `embed` is absent.
 *
 * @example
 * const claude = anthropicProvider({ id: "anthropic", kind: "anthropic", apiKey: process.env.ANTHROPIC_API_KEY, models: ["claude-sonnet-4-5"] });
 * const res = await claude.complete({ model: "claude", messages: [{ role: "user", content: "Hi" }] }, { model: "claude-sonnet-4-5", signal });
 */
export function anthropicProvider(cfg: ProviderConfig): ProviderAdapter {
  const url = `${(cfg.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "")}/v1/messages`;
  const provider = cfg.id;

  async function send(body: AnthropicRequest, stream: boolean, attempt: Attempt): Promise<Response> {
    const res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: stream ? "text/event-stream" : "application/json",
        "anthropic-version": ANTHROPIC_VERSION,
        ...cfg.headers,
        ...(cfg.apiKey ? { "x-api-key": cfg.apiKey } : {}),
        ...attempt.headers,
      },
      body: JSON.stringify(body),
      signal: attempt.signal,
    });
    if (!res.ok) throw httpError(res.status, await res.text(), res.headers);
    return res;
  }

  function httpError(status: number, bodyText: string, headers: Headers): ProviderError {
    const info = parseErrorBody(bodyText);
    const message = info.message ?? (bodyText.trim().slice(0, 300) || `upstream answered HTTP ${status}`);
    return providerHttpError(provider, status, { message, code: info.type ?? null }, headers.get("retry-after"));
  }

  /** Maps anything thrown during an attempt to what the caller should see. */
  function classify(err: unknown, attempt: Attempt, opts: ProviderCallOptions, phase: "request" | "stream", yielded = false): unknown {
    if (opts.signal.aborted) return opts.signal.reason;
    if (attempt.timedOut) {
      return new ProviderError({ provider, status: 504, code: "upstream_timeout", message: `no response within ${attempt.timeoutMs} ms`, retryable: true, cause: err });
    }
    if (err instanceof GatewayError) return err;
    const why = err instanceof Error ? err.message : String(err);
    if (phase === "stream") {
      return new ProviderError({ provider, status: 502, code: "upstream_stream_truncated", message: `stream broke off: ${why}`, retryable: !yielded, cause: err });
    }
    return new ProviderError({ provider, status: 502, code: "upstream_unreachable", message: `cannot reach ${url}: ${why}`, retryable: true, cause: err });
  }

  return {
    id: cfg.id,
    kind: "anthropic",
    models: cfg.models,

    async complete(req: ChatCompletionRequest, opts: ProviderCallOptions): Promise<ChatCompletion> {
      const body = toAnthropicRequest(req, opts.model);
      const attempt = startAttempt(opts, cfg);
      try {
        const res = await send(body, false, attempt);
        const raw = parseEventData(provider, await res.text());
        if (raw.type === "error") throw upstreamErrorEvent(provider, raw);
        if (!isAnthropicMessage(raw)) throw invalidResponse(provider, "a response that is not a Messages `message`");
        return fromAnthropicMessage(raw, opts.model);
      } catch (err) {
        throw classify(err, attempt, opts, "request");
      } finally {
        attempt.dispose();
      }
    },

    async *stream(req: ChatCompletionRequest, opts: ProviderCallOptions): AsyncGenerator<ChatCompletionChunk> {
      const body: AnthropicRequest = { ...toAnthropicRequest(req, opts.model), stream: true };
      const attempt = startAttempt(opts, cfg);
      let res: Response;
      try {
        res = await send(body, true, attempt);
      } catch (err) {
        attempt.dispose();
        throw classify(err, attempt, opts, "request");
      }
      attempt.stopTimer(); // the timeout covers the wait for headers only
      let complete = false;
      let yielded = false;
      try {
        if (!res.body) throw invalidResponse(provider, "an empty body");
        for await (const chunk of translateAnthropicStream(parseSSE(res.body, attempt.signal), { provider, model: opts.model })) {
          yielded = true;
          yield chunk;
        }
        complete = true;
      } catch (err) {
        throw classify(err, attempt, opts, "stream", yielded);
      } finally {
        if (!complete) attempt.abort(); // consumer left early, or failure: cancel the upstream
        attempt.dispose();
      }
    },
  };
}


/** Reads Anthropic's `{"type":"error","error":{"type","message"}}` (tolerates other shapes). */
function parseErrorBody(text: string): { type?: string; message?: string } {
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    const err = body.error;
    if (typeof err === "object" && err !== null) {
      const e = err as Record<string, unknown>;
      return {
        ...(typeof e.type === "string" && e.type ? { type: e.type } : {}),
        ...(typeof e.message === "string" ? { message: e.message } : {}),
      };
    }
    if (typeof err === "string") return { message: err };
    if (typeof body.message === "string") return { message: body.message };
  } catch {
    // not JSON: the caller falls back to the raw text
  }
  return {};
}
