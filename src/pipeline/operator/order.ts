/**
 * Pure: the order operator plugins run in. Start from the configured `order` (lower first,
 * default 0), then name; then honour `before` / `after` hints (a plugin's predecessors move up
 * to just before it). Hints that would form a cycle are dropped and reported.
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
  // Depth-first in the initial order: a plugin's predecessors are pulled in just before it,
  // everything else keeps its place. An edge back into the current path (a cycle) is dropped.
  const byName = new Map(initial.map((p) => [p.name, p]));
  const ordered: T[] = [];
  const done = new Set<string>();
  const onPath = new Set<string>();
  const cycles: string[] = [];
  const visit = (p: T) => {
    if (done.has(p.name)) return;
    onPath.add(p.name);
    for (const q of initial) {
      if (!preds.get(p.name)!.has(q.name) || done.has(q.name)) continue;
      if (onPath.has(q.name)) {
        cycles.push(`${q.name} ↔ ${p.name}`);
        continue;
      }
      visit(byName.get(q.name)!);
    }
    onPath.delete(p.name);
    done.add(p.name);
    ordered.push(p);
  };
  for (const p of initial) visit(p);
  return { ordered, cycles };
}
