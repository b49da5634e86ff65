/**
 * ProviderError: every upstream failure, normalized. It is a GatewayError (so the pipeline and
 * the HTTP layer render it with a status and a stable code) that also says whether a retry can
 * help and how long the provider asked to wait.
 *
 * Mapping (all adapters):
 *   401/403            → 502 `upstream_auth_failed`, not retryable (the gateway's key is wrong)
 *   400/404/413/422    → passed through with the upstream's code (`upstream_bad_request` if none), not retryable
 *   408/504, timeouts  → 504 `upstream_timeout`, retryable
 *   429                → 429 `upstream_rate_limited`, retryable, `Retry-After` parsed
 *   5xx (and 529)      → 502 `upstream_error` (`upstream_overloaded` for 529/503), retryable
 *   connection refused/reset → 502 `upstream_unreachable`, retryable
 *   malformed JSON / bad SSE → 502 `upstream_invalid_response`, not retryable
 *   stream ended early → 502 `upstream_stream_truncated`, retryable only before the first byte
 */
import { GatewayError } from "../pipeline/errors.ts";

export class ProviderError extends GatewayError {
  readonly provider: string;
  /** The upstream's HTTP status (0 when there was no response). */
  readonly upstreamStatus: number;
  readonly retryable: boolean;
  /** From `Retry-After` (seconds or HTTP date) or provider-specific hints. */
  readonly retryAfterMs: number | undefined;

  constructor(opts: {
    provider: string;
    status: number;
    code: string;
    message: string;
    upstreamStatus?: number;
    retryable: boolean;
    retryAfterMs?: number;
    param?: string | null;
    cause?: unknown;
  }) {
    super({
      status: opts.status,
      code: opts.code,
      message: opts.message.startsWith(`${opts.provider}:`) ? opts.message : `${opts.provider}: ${opts.message}`,
      param: opts.param ?? null,
      ...(opts.retryAfterMs !== undefined ? { headers: { "retry-after": String(Math.max(1, Math.ceil(opts.retryAfterMs / 1000))) } } : {}),
      ...(opts.cause !== undefined ? { cause: opts.cause } : {}),
    });
    this.name = "ProviderError";
    this.provider = opts.provider;
    this.upstreamStatus = opts.upstreamStatus ?? 0;
    this.retryable = opts.retryable;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** `Retry-After`: delta-seconds or an HTTP date → ms (undefined when absent or unparseable). */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** The normalized error for an upstream HTTP error status (body already parsed for message/code). */
export function providerHttpError(
  provider: string,
  status: number,
  upstream: { message?: string; code?: string | null; param?: string | null },
  retryAfter?: string | null,
): ProviderError {
  const message = upstream.message ?? `upstream answered HTTP ${status}`;
  const base = { provider, upstreamStatus: status, message, ...(upstream.param ? { param: upstream.param } : {}) };
  if (status === 401 || status === 403) return new ProviderError({ ...base, status: 502, code: "upstream_auth_failed", retryable: false });
  if (status === 429) {
    const ms = parseRetryAfter(retryAfter);
    return new ProviderError({ ...base, status: 429, code: "upstream_rate_limited", retryable: true, ...(ms !== undefined ? { retryAfterMs: ms } : {}) });
  }
  if (status === 408 || status === 504) return new ProviderError({ ...base, status: 504, code: "upstream_timeout", retryable: true });
  if (status === 503 || status === 529) {
    const ms = parseRetryAfter(retryAfter);
    return new ProviderError({ ...base, status: 502, code: "upstream_overloaded", retryable: true, ...(ms !== undefined ? { retryAfterMs: ms } : {}) });
  }
  if (status >= 500) return new ProviderError({ ...base, status: 502, code: "upstream_error", retryable: true });
  if (status === 400 || status === 404 || status === 413 || status === 422) {
    return new ProviderError({ ...base, status, code: upstream.code || "upstream_bad_request", retryable: false });
  }
  return new ProviderError({ ...base, status: 502, code: "upstream_error", retryable: false });
}
