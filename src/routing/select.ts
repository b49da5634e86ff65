/**
 * selectTargets: the pure routing decision. Given a route, what is known about target health
 * and prices, and the request's hints, it returns every eligible target in the order to try
 * them (first = the pick, the rest = fallbacks) and a reason for the `route.selected` event.
 *
 * Ordering, outermost first:
 *   1. `hints.exclude` removes targets of those providers (the only rule that removes anything).
 *   2. Targets whose breaker is `open` go after all others. They are NOT removed: if everything
 *      is open the caller still gets the full list in strategy order and decides (try anyway,
 *      or answer 503). `half_open` targets stay in place: a request to them is the probe.
 *   3. `hints.prefer` providers go before the others (stable: the strategy's order is kept
 *      among them, and a preferred target with an open breaker still goes after healthy ones).
 *   4. Within each of these groups, the strategy (`hints.strategy ?? route.strategy`) orders.
 *      Randomized / stateful strategies (weighted, round_robin) make their pick only in the
 *      first non-empty group; later groups get the strategy's deterministic order.
 *
 * Strategies:
 *   - priority:      `priority` ascending (default 0), then config order.
 *   - weighted:      first = weighted random pick (one `rand()` call); rest by weight descending.
 *   - round_robin:   first = smooth weighted round-robin pick from `rr` (mutated, see
 *                    `RoundRobinState`); rest by weight descending. Without `rr`: weight order.
 *   - least_latency: EWMA latency ascending; unmeasured targets first (explore), ties → config order.
 *   - lowest_cost:   estimated cost ascending, `(promptTokens·input + maxTokens·output) / 1e6`
 *                    with `prices[targetKey]` (missing counts default to 1000 tokens);
 *                    unknown price last; ties → config order.
 *   - ab:            `ab.percent`% to `targets[ab.target]`, the rest to the other targets in
 *                    priority order. Bucket in [0,100): FNV-1a of `${alias}:${userId}` when
 *                    `hints.userId` is set (sticky), else `floor(rand()·100)`. The losing side
 *                    stays as fallback after the winning side. A route without a valid `ab`
 *                    falls back to priority order.
 */
import { stableBucket } from "./hash.ts";
import type { RoundRobinState } from "./swrr.ts";
import { targetKey } from "./types.ts";
import type { Price, Route, RouteTarget, RoutingHints, Selection, Strategy, TargetHealth } from "./types.ts";

/** Token count assumed for `lowest_cost` when the request does not say. */
export const DEFAULT_COST_TOKENS = 1000;

interface Candidate {
  target: RouteTarget;
  /** Position in `route.targets` (config order, the final tie-break). */
  index: number;
  key: string;
}

/** Orders one group; `primary` = the first non-empty group (where the real pick happens). */
type Orderer = (group: readonly Candidate[], primary: boolean) => Candidate[];

const weightOf = (c: Candidate): number => Math.max(0, c.target.weight ?? 1);
const priorityOf = (c: Candidate): number => c.target.priority ?? 0;
const byIndex = (a: Candidate, b: Candidate): number => a.index - b.index;
const byPriority = (a: Candidate, b: Candidate): number => priorityOf(a) - priorityOf(b) || byIndex(a, b);
const byWeightDesc = (a: Candidate, b: Candidate): number => weightOf(b) - weightOf(a) || byIndex(a, b);
const sorted = (group: readonly Candidate[], cmp: (a: Candidate, b: Candidate) => number): Candidate[] =>
  [...group].sort(cmp);

/** Moves `group[i]` to the front, keeping the rest in `rest` order. */
function pickFirst(group: readonly Candidate[], i: number, restOrder: (a: Candidate, b: Candidate) => number): Candidate[] {
  const first = group[i];
  const rest = sorted(group.filter((_, j) => j !== i), restOrder);
  return first ? [first, ...rest] : rest;
}

/** Index of the first entry whose cumulative weight exceeds `r` (r in [0, total)); zero weights are skipped. */
function weightedIndex(weights: readonly number[], r: number): number {
  let acc = 0;
  let lastPositive = -1;
  for (const [i, w] of weights.entries()) {
    if (w <= 0) continue;
    acc += w;
    lastPositive = i;
    if (r < acc) return i;
  }
  return lastPositive; // only reached through float rounding when rand() is close to 1
}

/**
 * Every eligible target of `route`, ordered for try-then-fallback. Pure except for `rr`,
 * which round_robin advances. `rand` must return numbers in [0, 1).
 */
export function selectTargets(
  route: Route,
  health: ReadonlyMap<string, TargetHealth>,
  prices: Readonly<Record<string, Price>>,
  hints: RoutingHints,
  rand: () => number,
  rr?: RoundRobinState,
): Selection {
  const reasons: string[] = [];
  const excluded = new Set(hints.exclude ?? []);
  const all: Candidate[] = route.targets.map((target, index) => ({ target, index, key: targetKey(target) }));
  const eligible = all.filter((c) => !excluded.has(c.target.provider));
  if (eligible.length < all.length) {
    reasons.push(`excluded: ${all.filter((c) => excluded.has(c.target.provider)).map((c) => c.key).join(", ")}`);
  }
  if (eligible.length === 0) return { targets: [], reason: [...reasons, "no eligible target"].join("; ") };

  const strategy = hints.strategy ?? route.strategy;
  const strategyReason: string[] = [];
  const order = ordererFor(strategy, route, health, prices, hints, rand, rr, strategyReason);

  const preferred = new Set(hints.prefer ?? []);
  const isOpen = (c: Candidate): boolean => health.get(c.key)?.state === "open";
  const isPreferred = (c: Candidate): boolean => preferred.has(c.target.provider);
  const groups = [
    eligible.filter((c) => !isOpen(c) && isPreferred(c)),
    eligible.filter((c) => !isOpen(c) && !isPreferred(c)),
    eligible.filter((c) => isOpen(c) && isPreferred(c)),
    eligible.filter((c) => isOpen(c) && !isPreferred(c)),
  ];
  const ordered: Candidate[] = [];
  for (const group of groups) {
    if (group.length === 0) continue;
    ordered.push(...order(group, ordered.length === 0));
  }

  reasons.push(...strategyReason);
  const preferredHere = eligible.filter(isPreferred);
  if (preferredHere.length > 0) {
    reasons.push(`preferred provider: ${[...new Set(preferredHere.map((c) => c.target.provider))].join(", ")}`);
  }
  const open = eligible.filter(isOpen);
  if (open.length > 0) {
    reasons.push(open.length === eligible.length
      ? "breaker open on every target: strategy order kept"
      : `breaker open: moved last ${open.map((c) => c.key).join(", ")}`);
  }
  return { targets: ordered.map((c) => c.target), reason: reasons.join("; ") };
}

function ordererFor(
  strategy: Strategy,
  route: Route,
  health: ReadonlyMap<string, TargetHealth>,
  prices: Readonly<Record<string, Price>>,
  hints: RoutingHints,
  rand: () => number,
  rr: RoundRobinState | undefined,
  reasons: string[],
): Orderer {
  switch (strategy) {
    case "priority":
      return (group, primary) => {
        if (primary) reasons.push("priority order");
        return sorted(group, byPriority);
      };
    case "weighted":
      return (group, primary) => {
        if (!primary) return sorted(group, byWeightDesc);
        const total = group.reduce((s, c) => s + weightOf(c), 0);
        if (total <= 0) {
          reasons.push("weighted: no positive weight, config order");
          return sorted(group, byIndex);
        }
        const pick = weightedIndex(group.map(weightOf), rand() * total);
        const chosen = group[pick];
        if (chosen) reasons.push(`weighted pick ${chosen.key} (weight ${weightOf(chosen)} of ${total})`);
        return pickFirst(group, pick, byWeightDesc);
      };
    case "round_robin":
      return (group, primary) => {
        if (!primary) return sorted(group, byWeightDesc);
        if (!rr) {
          reasons.push("round_robin without state: weight order");
          return sorted(group, byWeightDesc);
        }
        const pick = rr.next(route.alias, group.map((c) => ({ key: c.key, weight: weightOf(c) })));
        if (pick === undefined) {
          reasons.push("round_robin: no positive weight, config order");
          return sorted(group, byIndex);
        }
        const chosen = group[pick];
        if (chosen) reasons.push(`round-robin pick ${chosen.key}`);
        return pickFirst(group, pick, byWeightDesc);
      };
    case "least_latency":
      return (group, primary) => {
        const latency = (c: Candidate): number => health.get(c.key)?.ewmaLatencyMs ?? -1;
        const out = sorted(group, (a, b) => latency(a) - latency(b) || byIndex(a, b));
        const first = out[0];
        if (primary && first) {
          const ms = health.get(first.key)?.ewmaLatencyMs;
          reasons.push(`least latency: ${first.key} (${ms === undefined ? "unmeasured, exploring" : `${Math.round(ms)}ms`})`);
        }
        return out;
      };
    case "lowest_cost":
      return (group, primary) => {
        const cost = (c: Candidate): number => {
          const p = prices[c.key];
          if (!p) return Infinity;
          return ((hints.promptTokens ?? DEFAULT_COST_TOKENS) * p.input + (hints.maxTokens ?? DEFAULT_COST_TOKENS) * p.output) / 1e6;
        };
        const out = sorted(group, (a, b) => {
          const ca = cost(a);
          const cb = cost(b);
          return ca === cb ? byIndex(a, b) : ca < cb ? -1 : 1;
        });
        const first = out[0];
        if (primary && first) {
          const c = cost(first);
          reasons.push(Number.isFinite(c) ? `lowest cost: ${first.key} ($${c.toPrecision(3)})` : "lowest cost: no price known, config order");
        }
        return out;
      };
    case "ab":
      return abOrderer(route, hints, rand, reasons);
    default: {
      const never: never = strategy;
      throw new Error(`unknown routing strategy: ${String(never)}`);
    }
  }
}

/** A/B: one bucket per selection (computed lazily, at most one `rand()` call). */
function abOrderer(route: Route, hints: RoutingHints, rand: () => number, reasons: string[]): Orderer {
  const ab = route.ab;
  if (!ab || !Number.isInteger(ab.target) || ab.target < 0 || ab.target >= route.targets.length) {
    return (group, primary) => {
      if (primary) reasons.push("ab: route has no valid split, priority order");
      return sorted(group, byPriority);
    };
  }
  let inA: boolean | undefined;
  return (group, primary) => {
    if (inA === undefined) {
      const percent = Math.min(100, Math.max(0, ab.percent));
      const sticky = hints.userId !== undefined;
      const bucket = sticky
        ? stableBucket(`${route.alias}:${hints.userId}`)
        : Math.min(99, Math.max(0, Math.floor(rand() * 100)));
      inA = bucket < percent;
      if (primary) reasons.push(`ab bucket ${bucket} < ${percent}%? ${inA ? "yes" : "no"}${sticky ? " (sticky)" : ""}`);
    }
    const a = group.filter((c) => c.index === ab.target);
    const rest = sorted(group.filter((c) => c.index !== ab.target), byPriority);
    return inA ? [...a, ...rest] : [...rest, ...a];
  };
}
