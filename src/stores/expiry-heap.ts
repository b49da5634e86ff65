/**
 * A binary min-heap of `(at, id)` pairs: what expires next, in O(log n). Removal is lazy — a
 * caller that settles or replaces an entry leaves its old pair behind and skips it when it
 * surfaces (the pair's `at` no longer matches) — so owners rebuild it once stale pairs pile up.
 */
export interface Expiry {
  at: number;
  id: string;
}

export class ExpiryHeap {
  private items: Expiry[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Expiry | undefined {
    return this.items[0];
  }

  push(at: number, id: string): void {
    const items = this.items;
    items.push({ at, id });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((items[parent] as Expiry).at <= at) break;
      items[i] = items[parent] as Expiry;
      i = parent;
    }
    items[i] = { at, id };
  }

  pop(): Expiry | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && (items[right] as Expiry).at < (items[left] as Expiry).at ? right : left;
      if ((items[child] as Expiry).at >= last.at) break;
      items[i] = items[child] as Expiry;
      i = child;
    }
    items[i] = last;
    return top;
  }

  /** Replace the content with exactly these pairs. */
  rebuild(pairs: Iterable<Expiry>): void {
    this.items = [];
    for (const p of pairs) this.push(p.at, p.id);
  }
}
