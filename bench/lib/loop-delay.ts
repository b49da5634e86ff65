/** Event-loop delay sampling for the benches: how late a 1 ms timer fires, and percentiles. */

export const pct = (xs: number[], q: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]! : 0);

export interface LoopDelay {
  samples: number;
  p50: number;
  p99: number;
  max: number;
  /** Samples at most 1, 2 and 5 ms late, and over 5 ms. */
  le1: number;
  le2: number;
  le5: number;
  gt5: number;
  /** Samples over 2 ms late. */
  gt2: number;
}

/** Start sampling; `stop()` returns the delays seen (a block still running at the stop counts too). */
export function sampler(): { stop(): LoopDelay } {
  const lags: number[] = [];
  let last = performance.now();
  const t = setInterval(() => {
    const now = performance.now();
    lags.push(Math.max(0, now - last - 1));
    last = now;
  }, 1);
  return {
    stop() {
      clearInterval(t);
      lags.push(Math.max(0, performance.now() - last - 1));
      const le = (x: number) => lags.filter((l) => l <= x).length;
      return { samples: lags.length, p50: pct(lags, 0.5), p99: pct(lags, 0.99), max: Math.max(0, ...lags), le1: le(1), le2: le(2), le5: le(5), gt5: lags.length - le(5), gt2: lags.length - le(2) };
    },
  };
}
