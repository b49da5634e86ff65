/** Input rules every StateStore implementation enforces the same way (so the contract holds for both). */
import type { HashWrite } from "./state-store.ts";

/** A TTL in whole ms (at least 1), or a RangeError. */
export function ttlOf(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`ttlMs must be a positive number, got ${ttlMs}`);
  return Math.ceil(ttlMs);
}

/** `applyVersioned` arguments: a safe-integer version and no write to the version key itself. */
export function checkVersioned(versionKey: string, version: number, writes: HashWrite[]): void {
  if (!Number.isSafeInteger(version)) throw new RangeError(`version must be a safe integer, got ${version}`);
  for (const w of writes) {
    if (w.key === versionKey) throw new RangeError(`a write may not target the version key ${JSON.stringify(versionKey)}`);
  }
}

/** `hscan`'s count hint: an integer ≥ 1 (Redis refuses 0 and negatives with a syntax error). */
export function checkScanCount(count: number): void {
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`count must be an integer >= 1, got ${count}`);
}
