/**
 * Labelled counters and histograms for the per-request path, registered in a prom-client
 * `Registry` and written by it (the same exposition text as prom-client's own `Counter` and
 * `Histogram`: test/telemetry/fast-series.test.ts feeds both the same observations and compares
 * the `/metrics` text).
 *
 * Why not prom-client's own: each of its `inc`/`observe` calls validates the label object and
 * builds a hash string from its sorted names, ≈ 1 µs a call and 6–8 calls a request (≈ 4% of the
 * gateway's CPU at c=16, issue 30). Here the caller passes the label VALUES in the declared order;
 * the series is found by walking one Map per label. Validation happens once, when a series is created.
 *
 * A registry reads a metric through `get()`/`getForPromString()` (the shape prom-client's own
 * metrics return) and clears it with `reset()`; that is all these implement.
 */
import type { Registry } from "prom-client";

interface SeriesBase {
  labels: Record<string, string>;
}

function seriesLabels(names: readonly string[], values: readonly string[], metric: string): Record<string, string> {
  if (values.length !== names.length) throw new Error(`${metric}: ${names.length} label values expected, got ${values.length}`);
  const labels: Record<string, string> = {};
  names.forEach((n, i) => (labels[n] = values[i]!));
  return labels;
}

/** Label values → series: one Map level per label (no key string is built on the way). */
type Trie<S> = Map<string, Trie<S> | S>;

abstract class FastMetric<S extends SeriesBase> {
  readonly aggregator = "sum";
  /** In creation order: the order prom-client writes its series in. */
  protected series: S[] = [];
  private trie: Trie<S> = new Map();

  constructor(
    readonly name: string,
    readonly help: string,
    protected readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
    if (labelNames.length === 0) this.find([]); // an unlabelled series exists from the start (prom-client's behaviour)
  }

  protected abstract create(labels: Record<string, string>): S;

  protected find(values: readonly string[]): S {
    if (values.length !== this.labelNames.length) seriesLabels(this.labelNames, values, this.name); // throws
    let node = this.trie;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      let next = node.get(values[i]!) as Trie<S> | undefined;
      if (!next) node.set(values[i]!, (next = new Map()));
      node = next;
    }
    const leaf = last < 0 ? "" : values[last]!;
    let s = node.get(leaf) as S | undefined;
    if (!s) {
      s = this.create(seriesLabels(this.labelNames, values, this.name));
      node.set(leaf, s);
      this.series.push(s);
    }
    return s;
  }

  reset(): void {
    this.series = [];
    this.trie = new Map();
    if (this.labelNames.length === 0) this.find([]);
  }
}

export class FastCounter extends FastMetric<SeriesBase & { value: number }> {
  readonly type = "counter";

  protected create(labels: Record<string, string>) {
    return { labels, value: 0 };
  }

  /** Add `by` (≥ 0) to the series of these label values (in `labelNames` order). */
  inc(values: readonly string[], by = 1): void {
    if (!(by >= 0) || !Number.isFinite(by)) throw new TypeError(`${this.name}: a counter only goes up (got ${by})`);
    this.find(values).value += by;
  }

  async get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.series.map((s) => ({ labels: s.labels, value: s.value })) };
  }
}

export class FastHistogram extends FastMetric<SeriesBase & { counts: number[]; sum: number; count: number }> {
  readonly type = "histogram";

  constructor(name: string, help: string, labelNames: readonly string[], private readonly buckets: readonly number[], registry: Registry) {
    super(name, help, labelNames, registry);
    if (labelNames.includes("le")) throw new Error("le is a reserved label keyword");
  }

  protected create(labels: Record<string, string>) {
    return { labels, counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
  }

  /** Record `value` in the series of these label values (in `labelNames` order). */
  observe(values: readonly string[], value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`${this.name}: value is not a valid number: ${value}`);
    const s = this.find(values);
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) {
      if (value <= b[i]!) {
        s.counts[i]!++;
        break;
      }
    }
    s.sum += value;
    s.count++;
  }

  /** The exposition rows: cumulative buckets, `+Inf`, sum and count per series (labels shared, as prom-client's). */
  async getForPromString() {
    const bucket = `${this.name}_bucket`;
    const values: { labels: Record<string, string | number>; sharedLabels: Record<string, string>; value: number; metricName: string; exemplar?: null }[] = [];
    for (const s of this.series) {
      let acc = 0;
      this.buckets.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { le }, sharedLabels: s.labels, value: acc, metricName: bucket, exemplar: null });
      });
      values.push({ labels: { le: "+Inf" }, sharedLabels: s.labels, value: s.count, metricName: bucket, exemplar: null });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** For `getMetricsAsJSON`: the series' labels folded into each row. */
  async get() {
    const data = await this.getForPromString();
    return { ...data, values: data.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })) };
  }
}
