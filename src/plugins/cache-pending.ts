/**
 * The exact-cache lookup in flight beside admission (issue 30): one round trip of waiting where
 * there were two. When a request has rate limits or a budget and the cache lives in Redis, the
 * cache plugin starts its GET in the lookup phase without waiting for it and leaves the answer
 * (hit or not) here; the limits plugin sends its admission while the GET is in flight and reads
 * the answer with the admission's. A hit is then admitted as a hit (RPM of key and tenant only:
 * what admission took beyond that is given back after the answer), and the cache plugin answers
 * it first thing in the call phase.
 */
import type { Ctx } from "../pipeline/context.ts";

/** ctx.state key: `Promise<boolean>`, true on a usable hit. */
export const CACHE_PENDING_STATE = "cache.pending";

/** The pending lookup's answer, when one is in flight for this request. */
export function pendingHit(ctx: Ctx): Promise<boolean> | undefined {
  return ctx.state[CACHE_PENDING_STATE] as Promise<boolean> | undefined;
}

/** Whether the key or the tenant has a rate limit or a budget (so admission runs for this request). */
export function hasLimits(ctx: Ctx): boolean {
  for (const k of ["auth.key", "auth.tenant"]) {
    const h = ctx.state[k] as { rpm_limit?: number; tpm_limit?: number; budget?: unknown } | undefined;
    if (h && (h.rpm_limit || h.tpm_limit || h.budget)) return true;
  }
  return false;
}
