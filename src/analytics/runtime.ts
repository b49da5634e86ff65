/**
 * The gateway's analytics at run time: the AnalyticsStore it reads and the usage projection that
 * fills it. Started off the request path: the schema migration retries in the background with
 * backoff (a ClickHouse that is down at start delays analytics, never the gateway), then the
 * projection's consumer group catches up from its committed offsets.
 *
 * @example
 * const analytics = startAnalytics(log, await openAnalyticsStore(settings));
 * analytics.status();   // { state: "starting" | "ready", error? }
 * await analytics.stop();
 */
import { setTimeout as pauseFor } from "node:timers/promises";
import type { EventLog, Subscription } from "../events/event-log.ts";
import { rebuildUsage, startUsageProjection, USAGE_GROUP } from "../projections/usage.ts";
import type { AnalyticsStore } from "./store.ts";
import { replayLogIndex } from "../explorer/log-index.ts";
import { startFramedProjection } from "./framed-projection.ts";

export type AnalyticsState = "starting" | "ready" | "rebuilding" | "stopped";

export interface AnalyticsRuntime {
  readonly store: AnalyticsStore;
  /** False in query-only mode: this process serves the API, another one runs the projection. */
  readonly projecting: boolean;
  /** The state, and the last error seen (a migration retry or a projection batch that failed). */
  status(): { state: AnalyticsState; error?: string };
  /** Resolves when the schema is in place and the projection runs (or rejects when stopped first). */
  ready(): Promise<void>;
  /**
   * Drop the usage tables and replay the requests stream from offset 0, with the live projection
   * paused meanwhile (it resumes from its committed offsets; rows already replayed are skipped).
   * Returns the `request.completed` events replayed.
   */
  rebuild(): Promise<number>;
  /** The projection's consumer group. */
  readonly group: string;
  /** Records of the requests stream not yet projected (end offsets minus the group's committed offsets). */
  lag(): Promise<number>;
  stop(): Promise<void>;
}

export interface AnalyticsRuntimeOptions {
  /** First retry pause of the migration, doubled up to `maxBackoffMs` (default 500 ms / 30 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  log?: (message: string) => void;
  /** Run the usage projection (default true); false = query only (another instance projects). */
  project?: boolean;
  /** The projection's consumer group (default `usage-projection`). */
  group?: string;
}

export function startAnalytics(events: EventLog, store: AnalyticsStore, opts: AnalyticsRuntimeOptions = {}): AnalyticsRuntime {
  const say = opts.log ?? ((m: string) => console.warn(m));
  let state: AnalyticsState = "starting";
  const stopped = () => state === "stopped";
  let lastError: string | undefined;
  let subscription: Subscription | undefined;
  const halt = new AbortController(); // ends the migration's retry pause on stop
  let lastProjectionWarning = 0;
  const projecting = opts.project ?? true;
  const group = opts.group ?? USAGE_GROUP;

  const started = (async () => {
    for (let pause = opts.backoffMs ?? 500; ; pause = Math.min(pause * 2, opts.maxBackoffMs ?? 30_000)) {
      if (stopped()) throw new Error("analytics stopped before it was ready");
      try {
        await store.migrate();
        break;
      } catch (err) {
        lastError = (err as Error).message;
        say(`[analytics] ${store.kind} store not ready (${lastError}); retrying in ${pause} ms`);
        await pauseFor(pause, undefined, { signal: halt.signal }).catch(() => {});
      }
    }
    if (stopped()) throw new Error("analytics stopped before it was ready");
    if (projecting) project();
    state = "ready";
    lastError = undefined;
  })();
  started.catch(() => {}); // observed through ready()/status()

  // The request explorer's request-id → log-position index is projected by the same consumer as usage (same store).

  function project(): void {
    const onError = (err: unknown) => {
      lastError = (err as Error).message;
      // The batch is retried by the consumer: the projection lags, nothing is lost. Warn at most every 10 s.
      if (Date.now() - lastProjectionWarning > 10_000) {
        lastProjectionWarning = Date.now();
        say(`[analytics] usage projection lagging, will retry: ${lastError}`);
      }
    };
    // One consumer for the usage and log-index tables: on the file log with the engine in its own
    // process, records are read and parsed over there; elsewhere here, each decoded once.
    subscription = events.consumeFramed && store.projectFramed ? startFramedProjection(events, store, { group, onError }) : startUsageProjection(events, store, { group, onError });
  }

  let rebuilding: Promise<number> | undefined;

  return {
    store,
    projecting,
    group,
    status: () => ({ state, ...(lastError ? { error: lastError } : {}) }),
    ready: () => started,
    async lag() {
      const [end, done] = await Promise.all([events.endOffsets("requests"), events.committed("requests", group)]);
      return end.reduce((sum, e, p) => sum + Math.max(0, e - (done[p] ?? 0)), 0);
    },
    rebuild() {
      if (rebuilding) return rebuilding; // one rebuild at a time: a second caller waits for the same one
      if (state !== "ready") return Promise.reject(new Error(`analytics is ${state}: cannot rebuild now`));
      rebuilding = (async () => {
        state = "rebuilding";
        try {
          await subscription?.stop();
          const replayed = await rebuildUsage(events, store);
          await replayLogIndex(events, store); // the drop took the index table too
          return replayed;
        } finally {
          if (!stopped()) {
            if (projecting) project();
            state = "ready";
          }
          rebuilding = undefined;
        }
      })();
      return rebuilding;
    },
    async stop() {
      if (stopped()) return;
      state = "stopped";
      halt.abort();
      await started.catch(() => {});
      await rebuilding?.catch(() => {});
      await subscription?.stop();
      await store.close();
    },
  };
}
