/**
 * A consumer whose handler pauses after a short batch, so inserts come in blocks of many rows
 * rather than one small insert per append (ClickHouse makes a part per insert and merges them in
 * the background). Stopping ends a pause at once; offsets are committed after the pause, so
 * nothing is acknowledged early.
 */
import { setTimeout as pauseFor } from "node:timers/promises";
import type { Subscription } from "../events/event-log.ts";

/** `start` gets `linger(n)`: pause `lingerMs` when `n` records fell short of 90% of `maxBatch`. */
export function lingering(lingerMs: number, maxBatch: number, start: (linger: (n: number) => Promise<void>) => Subscription): Subscription {
  const halt = new AbortController();
  const sub = start(async (n) => {
    if (n < maxBatch * 0.9 && lingerMs > 0) await pauseFor(lingerMs, undefined, { signal: halt.signal }).catch(() => {});
  });
  return {
    stop() {
      halt.abort();
      return sub.stop();
    },
  };
}
