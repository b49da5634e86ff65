/**
 * Pure: the order operator plugins run in. Start from the configured `order` (lower first,
 * default 0), then load order (name); then honour `before` / `after` hints with a stable
 * topological sort. Hints that would form a cycle are dropped and reported.
 */

export interface Orderable {
  name: string;
  before: readonly string[];
  after: readonly string[];
  order?: number;
}

export function orderOperatorPlugins<T extends Orderable>(items: readonly T[]): { ordered: T[]; cycles: string[] } {
  const initial = [...items].sort((a, b) => (a.order ?? 0) - (b.order ?? 0) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const names = new Set(initial.map((p) => p.name));
  // edges: a → b means a runs before b
  const preds = new Map<string, Set<string>>(initial.map((p) => [p.name, new Set()]));
  for (const p of initial) {
    for (const b of p.before) if (names.has(b) && b !== p.name) preds.get(b)!.add(p.name);
    for (const a of p.after) if (names.has(a) && a !== p.name) preds.get(p.name)!.add(a);
  }
  const ordered: T[] = [];
  const done = new Set<string>();
  const cycles: string[] = [];
  const remaining = [...initial];
  while (remaining.length) {
    let i = remaining.findIndex((p) => [...preds.get(p.name)!].every((q) => done.has(q)));
    if (i < 0) {
      // A cycle: take the first remaining plugin anyway and drop its unmet hints.
      i = 0;
      cycles.push(remaining[0]!.name);
    }
    const [next] = remaining.splice(i, 1);
    ordered.push(next!);
    done.add(next!.name);
  }
  return { ordered, cycles };
}
