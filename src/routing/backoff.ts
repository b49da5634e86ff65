/**
 * Retry timing and the retry / fall back / fail decision after a failed attempt. Pure: the
 * random source and the remaining deadline are parameters.
 */

export interface BackoffOptions {
  /** Delay cap before jitter for attempt 0 (default 100 ms). */
  baseMs?: number;
  /** Upper bound of any backoff delay (default 5000 ms). Does not cap `Retry-After`. */
  maxMs?: number;
}

export const DEFAULT_BACKOFF = Object.freeze({ baseMs: 100, maxMs: 5000 });

/** What `planRetry` needs from an attempt's error; `ProviderError` fits as is. */
export interface AttemptError {
  retryable: boolean;
  /** The upstream's `Retry-After`, in ms. */
  retryAfterMs?: number | undefined;
  /** The gateway-side HTTP status of the error (e.g. 502, 429, 400). */
  status?: number;
  /** The stable error code (e.g. `upstream_auth_failed`). */
  code?: string;
}

/**
 * Exponential backoff with full jitter: `rand() · min(maxMs, baseMs · 2^attempt)`, so
 * `0 ≤ delay ≤ min(maxMs, baseMs · 2^attempt)`. `attempt` is 0-based (0 = before the first retry).
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, rand: () => number): number {
  const base = opts.baseMs ?? DEFAULT_BACKOFF.baseMs;
  const max = opts.maxMs ?? DEFAULT_BACKOFF.maxMs;
  const cap = Math.min(max, base * 2 ** Math.max(0, attempt));
  const r = Math.min(1, Math.max(0, rand()));
  return r * cap;
}

/**
 * The wait before retrying after `error`, or undefined when it must not be retried.
 * A `Retry-After` from the upstream wins over backoff and is not capped by `maxMs`
 * (`planRetry` falls back instead when it does not fit the deadline).
 */
export function retryDelay(
  error: Pick<AttemptError, "retryable" | "retryAfterMs">,
  attempt: number,
  opts: BackoffOptions,
  rand: () => number,
): number | undefined {
  if (!error.retryable) return undefined;
  if (error.retryAfterMs !== undefined && Number.isFinite(error.retryAfterMs)) return Math.max(0, error.retryAfterMs);
  return backoffDelay(attempt, opts, rand);
}

export interface PlanRetryInput {
  /** 0-based index of the attempt (on this target) that just failed. */
  attempt: number;
  /** Retries allowed per target (0 = one attempt only). */
  maxRetries: number;
  error: AttemptError;
  /** Time left before the request's overall deadline. */
  deadlineRemainingMs: number;
  backoff?: BackoffOptions;
  rand: () => number;
}

export type RetryPlan =
  | { action: "retry"; delayMs: number }
  | { action: "fallback"; reason: string }
  | { action: "fail"; reason: string };

/**
 * After a failed attempt: retry the same target, fall back to the next one, or fail.
 *
 * | error                                              | plan                                        |
 * |----------------------------------------------------|---------------------------------------------|
 * | deadline already spent (remaining ≤ 0)             | fail                                        |
 * | retryable, attempt < maxRetries, delay < remaining | retry after delay (Retry-After or backoff)  |
 * | retryable, retries exhausted                       | fallback                                    |
 * | retryable, delay does not fit the deadline         | fallback                                    |
 * | not retryable, 4xx status (request is bad)         | fail (no fallback: any target would refuse) |
 * | not retryable, other status (502 auth/invalid, …)  | fallback (this target is broken)            |
 */
export function planRetry(input: PlanRetryInput): RetryPlan {
  const { attempt, maxRetries, error, deadlineRemainingMs } = input;
  if (!(deadlineRemainingMs > 0)) return { action: "fail", reason: "deadline exceeded" };
  if (error.retryable) {
    if (attempt >= maxRetries) return { action: "fallback", reason: `retries exhausted (${attempt + 1} attempts)` };
    const delayMs = retryDelay(error, attempt, input.backoff ?? {}, input.rand) ?? 0;
    if (delayMs >= deadlineRemainingMs) {
      const source = error.retryAfterMs !== undefined ? "Retry-After" : "backoff";
      return { action: "fallback", reason: `${source} ${Math.round(delayMs)}ms exceeds remaining deadline ${Math.round(deadlineRemainingMs)}ms` };
    }
    return { action: "retry", delayMs };
  }
  const what = error.code ?? "error";
  if (error.status !== undefined && error.status >= 400 && error.status < 500) {
    return { action: "fail", reason: `${what} (${error.status}) is not retryable: the request itself is refused` };
  }
  return { action: "fallback", reason: `${what}${error.status !== undefined ? ` (${error.status})` : ""} is not retryable on this target` };
}
