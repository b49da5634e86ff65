/**
 * deploy/prometheus/alerts.yml: every rule parses with Prometheus' own `promtool check rules`
 * (built from the Go module proxy by scripts/promtool.sh; `make test` puts it in PROMTOOL), and
 * every metric a rule names is exported by a live gateway's GET /metrics.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { availableOrFail } from "../helpers/services.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const ROOT = resolve(import.meta.dir, "../..");
const RULES = join(ROOT, "deploy/prometheus/alerts.yml");
const NAME = "Prometheus alerting rules (deploy/prometheus/alerts.yml)";

/** PROMTOOL, else the binary scripts/promtool.sh caches. */
function promtool(): string | undefined {
  if (process.env.PROMTOOL) return process.env.PROMTOOL;
  const r = Bun.spawnSync(["bash", join(ROOT, "scripts/promtool.sh"), "path"], { stderr: "ignore" });
  const m = /^PROMTOOL=(.+)$/m.exec(r.stdout.toString());
  return r.exitCode === 0 && m ? m[1]!.trim() : undefined;
}

/** The metric names in the rules' expressions (ours start with llm_, gen_ai_ or tollgate_). */
export function metricNames(yaml: string): string[] {
  const exprs = [...yaml.matchAll(/expr: \|?\s*\n?((?:.*\n)*?)\s*(?:for|labels):/g)].map((m) => m[1]!).join("\n").replace(/\b(by|without) \([^)]*\)/g, ""); // label lists are not metrics
  return [...new Set([...exprs.matchAll(/\b((?:llm|gen_ai|tollgate)_[a-z0-9_]+)\b/g)].map((m) => m[1]!))].sort();
}

const bin = promtool();
if (availableOrFail(NAME, "promtool", bin ? undefined : "promtool not built: run bash scripts/promtool.sh install (make test does)")) {
  describe(NAME, () => {
    let gw: TestGateway;
    let dir: string;
    beforeAll(async () => {
      gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: "prom-rules-admin-key-0123456789" });
      dir = mkdtempSync(join(tmpdir(), "tollgate-prom-"));
    });
    afterAll(async () => {
      await gw?.dispose();
      rmSync(dir, { recursive: true, force: true });
    });

    test("promtool check rules passes, for every rule", () => {
      const r = Bun.spawnSync([bin!, "check", "rules", RULES]);
      const out = r.stdout.toString() + r.stderr.toString();
      expect(r.exitCode, out).toBe(0);
      const count = (readFileSync(RULES, "utf8").match(/^\s+- alert: /gm) ?? []).length;
      expect(out).toContain(`SUCCESS: ${count} rules found`);
      expect(count).toBeGreaterThanOrEqual(11);
    });

    test("promtool refuses a broken rule (the check can fail)", () => {
      const bad = join(dir, "bad.yml");
      writeFileSync(bad, "groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(rate(llm_requests_total[5m]) >\n");
      expect(Bun.spawnSync([bin!, "check", "rules", bad]).exitCode).not.toBe(0);
    });

    test("the Grafana alerts dashboard: every panel query is valid PromQL (promtool) over exported metrics", async () => {
      const dash = JSON.parse(readFileSync(join(ROOT, "deploy/grafana/dashboards/tollgate-alerts.json"), "utf8")) as { panels: Array<{ title: string; datasource?: { uid: string }; targets?: Array<{ expr: string }> }> };
      const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
      expect(exprs.length).toBeGreaterThanOrEqual(8);
      for (const p of dash.panels) if (p.targets) expect(p.datasource?.uid, p.title).toBe("tollgate-prometheus");
      // As recording rules, so promtool parses every expression.
      const file = join(dir, "panels.yml");
      writeFileSync(file, `groups:\n  - name: panels\n    rules:\n${exprs.map((e, i) => `      - record: tollgate:panel_${i}\n        expr: ${JSON.stringify(e)}\n`).join("")}`);
      const r = Bun.spawnSync([bin!, "check", "rules", file]);
      expect(r.exitCode, r.stdout.toString() + r.stderr.toString()).toBe(0);
      const text = await (await fetch(`${gw.url}/metrics`)).text();
      const names = [...new Set(exprs.join("\n").replace(/\b(by|without) \([^)]*\)/g, "").match(/\b(?:llm|gen_ai|tollgate)_[a-z0-9_]+\b/g) ?? [])];
      for (const n of names) expect(text, n).toContain(`# TYPE ${n.replace(/_(bucket|count|sum)$/, "")} `);
    });

    test("every metric the rules name is exported by GET /metrics", async () => {
      const names = metricNames(readFileSync(RULES, "utf8"));
      expect(names.length).toBeGreaterThanOrEqual(10);
      const text = await (await fetch(`${gw.url}/metrics`)).text();
      const exported = new Set([...text.matchAll(/^# TYPE (\S+) (\w+)/gm)].flatMap(([, n, type]) => (type === "histogram" ? [`${n}_bucket`, `${n}_count`, `${n}_sum`] : [n!])));
      const missing = names.filter((n) => !exported.has(n));
      expect(missing).toEqual([]);
      expect(names).toContain("llm_fallbacks_total");
      expect(names).toContain("gen_ai_client_operation_duration_seconds_count");
    });
  });
}
