/**
 * Failed admin sign-ins per source (IP): a sliding one-minute window. Past `limit` failures a
 * source is answered 429 without the credential even being looked at, until the window frees up.
 * Per instance (in memory): N instances allow at most N × limit guesses a minute per source.
 * `limit` 0: no limit (TOLLGATE_ADMIN_SIGNIN_FAILURES=0).
 */
export class FailureLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(
    private readonly limit = 10,
    private readonly windowMs = 60_000,
    private readonly maxSources = 10_000,
  ) {}

  /** ms until `source` may try again (0: it may). */
  blockedFor(source: string, now = Date.now()): number {
    if (this.limit === 0) return 0; // no limit
    const list = this.live(source, now);
    return list.length >= this.limit ? list[0]! + this.windowMs - now : 0;
  }

  /** Count a failure; returns whether this one crossed the limit (record it once). */
  fail(source: string, now = Date.now()): boolean {
    if (this.limit === 0) return false;
    const list = this.live(source, now);
    list.push(now);
    if (!this.hits.has(source)) {
      if (this.hits.size >= this.maxSources) this.hits.delete(this.hits.keys().next().value!); // oldest source out: bounded memory
      this.hits.set(source, list);
    }
    return list.length === this.limit;
  }

  private live(source: string, now: number): number[] {
    const list = this.hits.get(source) ?? [];
    while (list.length && list[0]! <= now - this.windowMs) list.shift();
    return list;
  }
}
