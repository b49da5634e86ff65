/**
 * A rolling outcome window made of fixed time buckets (immutable). Counting per bucket keeps
 * memory and update cost constant however many requests a target sees.
 *
 * With `windowMs` split into `buckets` buckets of `windowMs / buckets` ms, a bucket counts while
 * its start is later than `now - windowMs`; so an outcome counts for at least
 * `windowMs - windowMs / buckets` and at most `windowMs` ms.
 */

export interface OutcomeBucket {
  /** Bucket start (ms, a multiple of the bucket size). */
  readonly start: number;
  readonly ok: number;
  readonly failed: number;
}

/** Oldest bucket first. */
export type OutcomeWindow = readonly OutcomeBucket[];

export interface WindowTotals {
  ok: number;
  failed: number;
  total: number;
}

const bucketSize = (windowMs: number, buckets: number): number => Math.max(1, windowMs / Math.max(1, buckets));
const live = (b: OutcomeBucket, now: number, windowMs: number): boolean => b.start > now - windowMs;

/** A new window with one outcome at `now` added and expired buckets dropped. */
export function addOutcome(window: OutcomeWindow, ok: boolean, now: number, windowMs: number, buckets: number): OutcomeWindow {
  const size = bucketSize(windowMs, buckets);
  const start = Math.floor(now / size) * size;
  const kept = window.filter((b) => live(b, now, windowMs));
  const last = kept[kept.length - 1];
  if (last && last.start === start) {
    const updated = { start, ok: last.ok + (ok ? 1 : 0), failed: last.failed + (ok ? 0 : 1) };
    return [...kept.slice(0, -1), updated];
  }
  return [...kept, { start, ok: ok ? 1 : 0, failed: ok ? 0 : 1 }];
}

/** Outcomes still inside the window at `now`. */
export function windowTotals(window: OutcomeWindow, now: number, windowMs: number): WindowTotals {
  let ok = 0;
  let failed = 0;
  for (const b of window) {
    if (!live(b, now, windowMs)) continue;
    ok += b.ok;
    failed += b.failed;
  }
  return { ok, failed, total: ok + failed };
}
