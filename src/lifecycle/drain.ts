/**
 * Graceful shutdown of the HTTP server: stop accepting, let in-flight requests and streams
 * finish (bounded by a drain timeout), then cut whatever is left.
 *
 * ```
 * SIGTERM ─► draining = true (/ready → 503 "draining")
 *         ─► server.stop(false): no new connections; idle keep-alive ones close now,
 *            busy ones as soon as their response (or stream) completes
 *         ─► all closed, or drain timeout ─► server.stop(true) cuts the rest
 *         ─► emitter flushed, outbox flushed, log closed ─► exit 0
 * ```
 *
 * @example
 * const lifecycle = new Lifecycle();
 * const outcome = await drainServer(server, lifecycle, 25_000); // "drained" | "timed_out"
 */
import { setTimeout as sleep } from "node:timers/promises";

/** Shared by the app (readiness) and the shutdown sequence. */
export class Lifecycle {
  /** Set when shutdown starts: readiness answers 503 so load balancers stop sending traffic. */
  draining = false;
}

/** The part of Bun's server the drain needs. */
export interface StoppableServer {
  stop(closeActiveConnections?: boolean): Promise<void> | void;
  readonly pendingRequests?: number;
}

export type DrainOutcome = "drained" | "timed_out";

/**
 * Stop accepting and wait up to `timeoutMs` for every connection to finish its response.
 * Resolves with what happened; never rejects.
 */
export async function drainServer(server: StoppableServer, lifecycle: Lifecycle, timeoutMs: number): Promise<DrainOutcome> {
  lifecycle.draining = true;
  const ac = new AbortController();
  const closed = Promise.resolve(server.stop(false)).then(
    () => "drained" as const,
    () => "drained" as const,
  );
  const timer = sleep(timeoutMs, "timed_out" as const, { signal: ac.signal }).catch(() => "drained" as const);
  const outcome = await Promise.race([closed, timer]);
  ac.abort();
  if (outcome === "timed_out") await Promise.resolve(server.stop(true)).catch(() => {});
  return outcome;
}
