/**
 * Bounded label values: the first `max` distinct values are kept as they are, every later one
 * becomes `other`, so a million tenants or model names cannot explode the series count.
 */
export const OTHER = "other";

export class LabelCap {
  private readonly seen = new Set<string>();
  constructor(readonly max: number) {}

  /** The label value to use for `v` (empty/absent → `none`). */
  value(v: string | null | undefined): string {
    if (v === null || v === undefined || v === "") return "none";
    if (this.seen.has(v)) return v;
    if (this.seen.size < this.max) {
      this.seen.add(v);
      return v;
    }
    return OTHER;
  }
}
