/** Deterministic randomness and statistics for routing tests. */
export { mulberry32 } from "../helpers/rng.ts";

/** A rand() that returns `values` in turn (and throws when they run out, to catch extra calls). */
export function sequence(...values: number[]): () => number {
  let i = 0;
  return () => {
    const v = values[i++];
    if (v === undefined) throw new Error(`rand() called ${i} times, only ${values.length} values given`);
    return v;
  };
}

/** A rand() that must never be called. */
export const noRand = (): number => {
  throw new Error("rand() must not be called");
};

/** Pearson's chi-square statistic of observed counts against expected proportions. */
export function chiSquare(observed: readonly number[], weights: readonly number[]): number {
  const n = observed.reduce((s, x) => s + x, 0);
  const total = weights.reduce((s, x) => s + x, 0);
  return observed.reduce((chi, o, i) => {
    const e = (n * (weights[i] ?? 0)) / total;
    return chi + (o - e) ** 2 / e;
  }, 0);
}

/** Critical values of chi-square at p = 0.001, by degrees of freedom. */
export const CHI2_CRITICAL_P001: Readonly<Record<number, number>> = { 1: 10.828, 2: 13.816, 3: 16.266, 4: 18.467 };
