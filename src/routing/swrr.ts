/**
 * Smooth weighted round-robin (the nginx upstream algorithm).
 *
 * Each pick: every participating peer's current weight grows by its weight; the peer with the
 * highest current weight wins (ties → the earlier one) and loses the total of the weights. For
 * weights 5:1:1 this yields `a a b a c a a`, spreading the heavy peer out instead of bursting it.
 */

/** A peer as the algorithm sees it: a stable key and a weight (≤ 0 = never picked). */
export interface SwrrPeer {
  key: string;
  weight: number;
}

/**
 * Round-robin memory, one entry per route alias, each a map `targetKey → current weight`.
 *
 * This is the only mutable piece of the routing core: `selectTargets` receives it as a
 * parameter and mutates it (the shell keeps one instance per gateway process). Peers that sit
 * out a pick (excluded, breaker open) keep their current weight untouched until they return.
 * Aliases are the key: if tenant overrides reuse an alias with different targets, keep one
 * `RoundRobinState` per override scope.
 */
export class RoundRobinState {
  private readonly byAlias = new Map<string, Map<string, number>>();

  /**
   * One SWRR step over `peers` for `alias`: returns the index (into `peers`) of the pick,
   * or undefined when no peer has a positive weight (the state is then left unchanged).
   */
  next(alias: string, peers: readonly SwrrPeer[]): number | undefined {
    let current = this.byAlias.get(alias);
    if (!current) {
      current = new Map();
      this.byAlias.set(alias, current);
    }
    let total = 0;
    let best: number | undefined;
    let bestWeight = -Infinity;
    peers.forEach((peer, i) => {
      if (!(peer.weight > 0)) return;
      const w = (current.get(peer.key) ?? 0) + peer.weight;
      current.set(peer.key, w);
      total += peer.weight;
      if (w > bestWeight) {
        bestWeight = w;
        best = i;
      }
    });
    if (best === undefined) return undefined;
    const winner = peers[best];
    if (winner) current.set(winner.key, bestWeight - total);
    return best;
  }

  /** Current weights for `alias` (a copy, for inspection and tests). */
  weights(alias: string): Map<string, number> {
    return new Map(this.byAlias.get(alias));
  }

  /** Forget one alias (e.g. after its route changed), or everything. */
  reset(alias?: string): void {
    if (alias === undefined) this.byAlias.clear();
    else this.byAlias.delete(alias);
  }
}
