/**
 * One upstream attempt: the caller's signal combined with a per-attempt timeout, shared by
 * every adapter that calls a provider over HTTP.
 *
 * The timeout is `opts.timeoutMs`, else `cfg.timeoutMs`, else 60 s. `timedOut` tells a
 * timeout apart from the caller going away; `stopTimer()` ends the timeout once response
 * headers arrived (streams may be slow afterwards); `abort()` cancels the upstream request.
 */
import type { ProviderCallOptions, ProviderConfig } from "./types.ts";

export const DEFAULT_TIMEOUT_MS = 60_000;

export interface Attempt {
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  readonly timedOut: boolean;
  /** Per-attempt headers to send upstream (trace context), from `opts.headers`. */
  readonly headers: Record<string, string>;
  stopTimer(): void;
  abort(): void;
  dispose(): void;
}

/**
 * @example
 * const attempt = startAttempt(opts, cfg);
 * try { const res = await fetch(url, { signal: attempt.signal }); … } finally { attempt.dispose(); }
 */
export function startAttempt(opts: ProviderCallOptions, cfg: Pick<ProviderConfig, "timeoutMs">): Attempt {
  const timeoutMs = opts.timeoutMs ?? cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const ctrl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctrl.abort(new DOMException(`Upstream attempt timed out after ${timeoutMs} ms`, "TimeoutError"));
  }, timeoutMs);
  return {
    signal: AbortSignal.any([opts.signal, ctrl.signal]),
    timeoutMs,
    headers: opts.headers ?? {},
    get timedOut() {
      return timedOut;
    },
    stopTimer: () => clearTimeout(timer),
    abort: () => ctrl.abort(new DOMException("Upstream request cancelled", "AbortError")),
    dispose: () => clearTimeout(timer),
  };
}

/** Resolves after `ms`, or rejects with the abort reason as soon as `signal` aborts (retry pauses, paced streams). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
