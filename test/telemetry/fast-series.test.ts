/**
 * FastCounter / FastHistogram (src/telemetry/fast-series.ts) against prom-client's own Counter
 * and Histogram: the same observations into both, the same exposition text and JSON out.
 */
import { describe, expect, test } from "bun:test";
import { Counter, Histogram, Registry } from "prom-client";
import { FastCounter, FastHistogram } from "../../src/telemetry/fast-series.ts";

const BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28];
const TENANTS = ["acme", "globex", 'quote"and\\back', "line\nbreak", "ünï"];
const MODELS = ["gpt-4o-mini", "claude-3-5-haiku", "other"];

function pair() {
  const theirs = new Registry();
  const ours = new Registry();
  return {
    theirs,
    ours,
    counter: {
      theirs: new Counter({ name: "c_total", help: "a counter", labelNames: ["tenant", "model"], registers: [theirs] }),
      ours: new FastCounter("c_total", "a counter", ["tenant", "model"], ours),
    },
    bare: {
      theirs: new Counter({ name: "bare_total", help: "no labels", registers: [theirs] }),
      ours: new FastCounter("bare_total", "no labels", [], ours),
    },
    histogram: {
      theirs: new Histogram({ name: "h_seconds", help: "a histogram", labelNames: ["model", "status"], buckets: BUCKETS, registers: [theirs] }),
      ours: new FastHistogram("h_seconds", "a histogram", ["model", "status"], BUCKETS, ours),
    },
  };
}

describe("fast series write what prom-client writes", () => {
  test("10,000 random observations: the same /metrics text and the same JSON", async () => {
    const p = pair();
    let seed = 42;
    const r = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
    for (let i = 0; i < 10_000; i++) {
      const tenant = pick(TENANTS);
      const model = pick(MODELS);
      const by = Math.floor(r() * 100) / 7;
      p.counter.theirs.inc({ tenant, model }, by);
      p.counter.ours.inc([tenant, model], by);
      if (r() < 0.2) {
        p.bare.theirs.inc(0.5);
        p.bare.ours.inc([], 0.5);
      }
      const status = pick(["200", "429", "502"]);
      const v = pick([0, 0.01, 0.015, 1.28, 3, r() * 2]); // on a bound, between, above all
      p.histogram.theirs.observe({ model, status }, v);
      p.histogram.ours.observe([model, status], v);
    }
    const text = await p.ours.metrics();
    expect(text).toBe(await p.theirs.metrics());
    expect(text).toContain('h_seconds_bucket{le="+Inf",model="gpt-4o-mini",status="200"}');
    expect(text).toContain('c_total{tenant="quote\\"and\\\\back",model="other"}');
    const json = async (reg: Registry) => JSON.parse(JSON.stringify(await reg.getMetricsAsJSON())); // prom-client's rows carry `exemplar: undefined`
    expect(await json(p.ours)).toEqual(await json(p.theirs));
  });

  test("before any observation: an unlabelled counter is 0, labelled ones have no series", async () => {
    const p = pair();
    expect(await p.ours.metrics()).toBe(await p.theirs.metrics());
    expect(await p.ours.metrics()).toContain("bare_total 0");
  });

  test("reset clears both alike", async () => {
    const p = pair();
    p.counter.theirs.inc({ tenant: "a", model: "m" });
    p.counter.ours.inc(["a", "m"]);
    p.bare.theirs.inc(2);
    p.bare.ours.inc([], 2);
    p.theirs.resetMetrics();
    p.ours.resetMetrics();
    expect(await p.ours.metrics()).toBe(await p.theirs.metrics());
  });

  test("bad input is refused as prom-client refuses it", () => {
    const p = pair();
    expect(() => p.counter.ours.inc(["only-one"])).toThrow("2 label values expected");
    expect(() => p.counter.ours.inc(["a", "m"], -1)).toThrow("only goes up");
    expect(() => p.histogram.ours.observe(["m", "200"], Number.NaN)).toThrow("not a valid number");
    expect(() => new FastHistogram("x", "x", ["le"], BUCKETS, new Registry())).toThrow("reserved");
  });
});
