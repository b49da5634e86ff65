/**
 * The Grafana side of the compose stack, checked without Docker:
 * - provisioning: mounted where Grafana reads it; the data source reaches the clickhouse service as
 *   the read-only user; every panel uses the provisioned uid; the dashboard provider reads the
 *   directory the JSON is mounted at;
 * - the dashboard's SQL: every query (panel targets and template variables) expanded the way
 *   Grafana + the ClickHouse plugin expand it (grafana-sql.ts), then run on the real ClickHouse
 *   engine (chDB) against the real schema with known rows, with exact numbers.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChdbAnalyticsStore } from "../../src/analytics/chdb-store.ts";
import { rebuildRollupStatements, type UsageRow } from "../../src/analytics/schema.ts";
import { expectedMetrics, fixtureRows, quantile } from "../analytics/fixtures.ts";
import { type ComposeFile, grafanaInterpolate, hostPort, mounts, readYaml, ROOT, serviceEnv } from "./compose.ts";
import { dashboardQueries, type Dashboard, type Panel } from "./dashboard.ts";
import { durationMs, expandQuery, type QueryContext, type VariableState } from "./grafana-sql.ts";

const svc = readYaml<ComposeFile>("docker-compose.yml").services;
const gatewayEnv = serviceEnv(svc["gateway-1"]!);
const grafanaEnv = serviceEnv(svc.grafana!);
const datasources = readYaml<{ datasources: Array<Record<string, any>> }>("deploy/grafana/provisioning/datasources/clickhouse.yaml");
const providers = readYaml<{ providers: Array<Record<string, any>> }>("deploy/grafana/provisioning/dashboards/tollgate.yaml");
const DASHBOARD_FILE = "deploy/grafana/dashboards/tollgate-usage.json";
const dashboard = JSON.parse(readFileSync(join(ROOT, DASHBOARD_FILE), "utf8")) as Dashboard;
const PLUGIN = "grafana-clickhouse-datasource";

describe("Grafana provisioning", () => {
  const grafanaMounts = mounts(svc.grafana!);
  const mountOf = (hostDir: string) => grafanaMounts.find((m) => m.bind && m.source.replace(/^\.\//, "").replace(/\/$/, "") === hostDir);
  const ds = grafanaInterpolate(datasources.datasources, grafanaEnv);
  const clickhouse = ds.find((d) => d.type === PLUGIN)!;

  test("the plugin is installed at start, anonymous access is off, the admin password is configurable", () => {
    expect(grafanaEnv.GF_PLUGINS_PREINSTALL_SYNC ?? grafanaEnv.GF_INSTALL_PLUGINS ?? "").toContain(PLUGIN);
    expect(grafanaEnv.GF_AUTH_ANONYMOUS_ENABLED).toBe("false");
    expect((svc.grafana!.environment as Record<string, string>).GF_SECURITY_ADMIN_PASSWORD).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD:\?.+\}$/);
  });

  test("the provisioning dir is mounted where Grafana reads it, with datasources/ and dashboards/", () => {
    const m = mountOf("deploy/grafana/provisioning");
    expect(m?.target).toBe(grafanaEnv.GF_PATHS_PROVISIONING ?? "/etc/grafana/provisioning");
    for (const sub of ["datasources", "dashboards"]) expect(statSync(join(ROOT, "deploy/grafana/provisioning", sub)).isDirectory()).toBe(true);
  });

  test("the dashboard provider reads the directory the dashboard JSON is mounted at", () => {
    expect(providers.providers).toHaveLength(1);
    const p = providers.providers[0]!;
    expect(p.type).toBe("file");
    const m = mountOf("deploy/grafana/dashboards");
    expect(m?.target).toBe(p.options.path);
    expect(existsSync(join(ROOT, DASHBOARD_FILE))).toBe(true);
    expect(grafanaEnv.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(`${p.options.path}/tollgate-usage.json`);
  });

  test("the data source reaches the clickhouse service over HTTP as the read-only user", () => {
    expect(clickhouse.uid).toBe("tollgate-clickhouse");
    const j = clickhouse.jsonData;
    expect(Object.keys(svc)).toContain(j.host);
    expect(j.protocol).toBe("http");
    expect(j.port).toBe(hostPort(gatewayEnv.CLICKHOUSE_URL!).port);
    expect(j.defaultDatabase).toBe(gatewayEnv.CLICKHOUSE_DATABASE);
    // The user is defined in the XML mounted into the server's users.d, with the password both sides read.
    const xmlMount = mounts(svc.clickhouse!).find((m) => m.target.startsWith("/etc/clickhouse-server/users.d/"))!;
    const xml = readFileSync(join(ROOT, xmlMount.source), "utf8");
    expect(xml).toContain(`<${j.username}>`);
    expect(xml).toMatch(/<readonly>[12]<\/readonly>/);
    const envName = /<password from_env="(\w+)"\/>/.exec(xml)![1]!;
    const server = serviceEnv(svc.clickhouse!);
    expect(server[envName]).toBeTruthy();
    expect(clickhouse.secureJsonData.password).toBe(server[envName]!);
  });

  test("every panel, target and variable uses the provisioned data source uid", () => {
    const uid = clickhouse.uid;
    const queries = dashboardQueries(dashboard);
    expect(queries.length).toBeGreaterThanOrEqual(14);
    for (const q of queries) expect(q.datasource, q.where).toEqual({ type: PLUGIN, uid });
    const walk = (panels: Panel[]): void => {
      for (const p of panels) {
        if (p.type === "row") walk(p.panels ?? []);
        else expect(p.datasource, `panel ${p.title}`).toEqual({ type: PLUGIN, uid });
      }
    };
    walk(dashboard.panels);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toBe("tollgate-usage");
  });

  test("the SQL names the database and reads usage_events with FINAL", () => {
    for (const q of dashboardQueries(dashboard)) {
      for (const [, table] of q.sql.matchAll(/\bFROM\s+([\w.]+)/gi)) expect(table, q.where).toMatch(/^tollgate\.usage_(events|hourly)$/);
      if (q.kind === "panel") expect(q.sql, q.where).toMatch(/tollgate\.usage_events FINAL|tollgate\.usage_hourly/);
      if (/usage_hourly/.test(q.sql)) expect(q.sql, `${q.where}: rollup values summed`).toMatch(/\bsum\(/);
    }
  });
});

describe("dashboard SQL on the ClickHouse engine (chDB)", () => {
  const rows = fixtureRows();
  const tenants = [...new Set(rows.map((r) => r.tenant))].sort();
  const ALL: VariableState = { all: true, options: tenants };
  // A Grafana absolute range of two whole days (the end is inclusive, to the millisecond), and one
  // that starts and ends inside an hour.
  const DAYS = { from: new Date("2025-03-01T00:00:00.000Z"), to: new Date("2025-03-02T23:59:59.999Z") };
  const MID_HOUR = { from: new Date("2025-03-01T10:30:00.000Z"), to: new Date("2025-03-02T09:45:00.000Z") };
  type Range = typeof DAYS;
  const inside = (r: Range) => rows.filter((x) => Date.parse(x.time) >= r.from.getTime() && Date.parse(x.time) <= r.to.getTime());
  const hourOf = (r: UsageRow) => `${r.time.slice(0, 13).replace("T", " ")}:00:00`;
  let dir: string;
  let store: ChdbAnalyticsStore;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tollgate-grafana-"));
    store = await ChdbAnalyticsStore.open(dir, { database: "tollgate" });
    await store.migrate();
    // Duplicates the dashboard must not count: merges stopped, then a replayed part of the log
    // (same event ids, another batch). usage_events FINAL hides them; the rollup is rebuilt from
    // it, as an operator does after a replay (schema.ts).
    await store.exec("SYSTEM STOP MERGES tollgate.usage_events");
    await store.insert(rows, "requests:0:0-7");
    await store.insert(rows.slice(0, 3), "requests:0:0-2");
    for (const sql of rebuildRollupStatements("tollgate")) await store.exec(sql);
  });
  afterAll(async () => {
    await store?.close(); // chDB: one data directory per process, and every test file shares the process
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  interface RunOptions {
    tenant?: VariableState;
    intervalMs?: number;
    range?: Range;
  }
  function ctxFor(panel: Panel | undefined, o: RunOptions = {}): QueryContext {
    const min = panel?.interval ? durationMs(panel.interval) : 0;
    return { ...(o.range ?? DAYS), intervalMs: Math.max(min, o.intervalMs ?? 3_600_000), variables: { tenant: o.tenant ?? ALL } };
  }
  const panel = (title: string): Panel => {
    const p = dashboard.panels.find((x) => x.title === title);
    if (!p) throw new Error(`no panel ${title}`);
    return p;
  };
  function run<T = Record<string, unknown>>(title: string, o: RunOptions = {}): Promise<T[]> {
    const p = panel(title);
    return store.query<T>(expandQuery(p.targets![0]!.rawSql, ctxFor(p, o)));
  }
  const num = (v: unknown) => Number(v);
  const usd = (micros: number) => micros / 1e6;

  test("the store holds duplicate rows (a replay), which every usage_events query must read through FINAL", async () => {
    const [raw] = await store.query<{ n: number }>("SELECT count() AS n FROM tollgate.usage_events");
    expect(num(raw!.n)).toBe(rows.length + 3);
  });

  test("every query expands completely and returns rows; time series start with a DateTime bucket", async () => {
    for (const q of dashboardQueries(dashboard)) {
      const sql = expandQuery(q.sql, ctxFor(q.panel));
      const got = await store.query<Record<string, unknown>>(sql);
      expect(got.length, `${q.where}\n${sql}`).toBeGreaterThan(0);
      if (q.format === 0) {
        const [first, value] = Object.entries(got[0]!)[0]!;
        expect(first, q.where).toBe("bucket");
        expect(String(value)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      }
    }
  });

  test("every query also runs for one tenant, several, a quote in a name, and at other intervals", async () => {
    for (const tenant of [{ selected: ["acme"] }, { selected: ["acme", "globex"] }, { selected: ["o'brien"] }] as VariableState[]) {
      for (const intervalMs of [60_000, 3_600_000, 86_400_000]) {
        for (const q of dashboardQueries(dashboard)) await store.query(expandQuery(q.sql, ctxFor(q.panel, { tenant, intervalMs })));
      }
    }
  });

  test("no SELECT alias shadows a column of the table it reads (ClickHouse resolves aliases in WHERE too)", async () => {
    const cols = await store.query<{ table: string; name: string }>("SELECT table, name FROM system.columns WHERE database = 'tollgate'");
    for (const q of dashboardQueries(dashboard)) {
      const table = /FROM tollgate\.(\w+)/.exec(q.sql)![1];
      const columns = new Set(cols.filter((c) => c.table === table).map((c) => c.name));
      for (const [, alias] of q.sql.matchAll(/\bAS (\w+)/g)) {
        if (!columns.has(alias!)) continue;
        // The one allowed form: a dimension relabelled in place (never referenced by WHERE).
        const relabel = `if(${alias} = '', '(none)', ${alias}) AS ${alias}`;
        expect(q.sql.split(` AS ${alias}`).length - 1, `${q.where}: alias ${alias}`).toBe(q.sql.split(relabel).length - 1);
        const where = /\bWHERE\b([\s\S]*?)(?:\bGROUP BY\b|\bORDER BY\b|\bLIMIT\b|$)/.exec(q.sql)?.[1] ?? "";
        expect(where, `${q.where}: ${alias} in WHERE`).not.toMatch(new RegExp(`\\b${alias}\\b`));
      }
    }
  });

  test("the tenant variable lists the tenants", async () => {
    const v = dashboardQueries(dashboard).find((q) => q.kind === "variable")!;
    const got = await store.query<{ tenant: string }>(expandQuery(v.sql, ctxFor(undefined)));
    expect(got.map((r) => r.tenant)).toEqual(["acme", "globex"]);
  });

  test("stat panels: exact totals, for whole days and for a range starting and ending mid-hour", async () => {
    expect((await run<{ cost_usd: number }>("Total cost")).map((r) => num(r.cost_usd))).toEqual([0.019395]);
    for (const range of [DAYS, MID_HOUR]) {
      const m = expectedMetrics(inside(range));
      expect((await run<{ cost_usd: number }>("Total cost", { range }))[0]!.cost_usd).toBe(usd(m.cost_micros));
      expect(num((await run<{ requests: number }>("Requests", { range }))[0]!.requests)).toBe(m.requests);
      expect((await run<{ cache_hit_rate: number }>("Cache hit rate", { range }))[0]!.cache_hit_rate).toBe(m.cache_hit_rate);
      expect((await run<{ error_rate: number }>("Error rate", { range }))[0]!.error_rate).toBe(m.error_rate);
      expect((await run<{ p95_ms: number }>("Latency p95", { range }))[0]!.p95_ms).toBe(m.p95_ms);
    }
    expect(inside(MID_HOUR).map((r) => r.time.slice(5, 16))).toEqual(["03-01T10:40", "03-01T11:10", "03-01T11:20", "03-01T12:00", "03-02T09:30"]);
  });

  test("the tenant filter: one tenant, several, All", async () => {
    const cost = async (tenant: VariableState) => num((await run<{ cost_usd: number }>("Total cost", { tenant }))[0]!.cost_usd);
    expect(await cost({ selected: ["acme"] })).toBe(0.01515);
    expect(await cost({ selected: ["globex"] })).toBe(0.004245);
    expect(await cost({ selected: ["acme", "globex"] })).toBe(0.019395);
    expect(await cost({ all: true, options: [] })).toBe(0.019395); // All, even before the variable has options
    expect(await cost({ selected: ["nobody"] })).toBe(0);
  });

  test("cost over time (hourly rollup) by provider: per hour and provider, and the events' total", async () => {
    const got = await run<{ bucket: string; provider: string; cost_usd: number }>("Cost over time by provider");
    const expected = new Map<string, number>();
    for (const r of inside(DAYS)) expected.set(`${hourOf(r)}|${r.provider}`, (expected.get(`${hourOf(r)}|${r.provider}`) ?? 0) + r.cost_micros);
    expect(got.map((r) => [`${r.bucket}|${r.provider}`, num(r.cost_usd)])).toEqual([...expected].sort().map(([k, v]) => [k, usd(v)]));
    expect(got.reduce((s, r) => s + Math.round(num(r.cost_usd) * 1e6), 0)).toBe(expectedMetrics(inside(DAYS)).cost_micros);
  });

  test("requests over time (hourly rollup): whole hours, and the same sums at any interval", async () => {
    for (const intervalMs of [60_000, 3_600_000, 6 * 3_600_000, 86_400_000]) {
      const got = await run<{ all_requests: number; cached: number; errors: number }>("Requests over time", { intervalMs });
      const sum = (k: "all_requests" | "cached" | "errors") => got.reduce((s, r) => s + num(r[k]), 0);
      expect([sum("all_requests"), sum("cached"), sum("errors")]).toEqual([7, 1, 1]);
    }
    const daily = await run<{ bucket: string; all_requests: number }>("Requests over time", { intervalMs: 86_400_000 });
    expect(daily.map((r) => [r.bucket, num(r.all_requests)])).toEqual([["2025-03-01 00:00:00", 5], ["2025-03-02 00:00:00", 2]]);
    // The rollup's grain is the hour: a range starting at 10:30 includes the whole 10:00 hour.
    const mid = await run<{ bucket: string; all_requests: number }>("Requests over time", { range: MID_HOUR });
    expect(mid.map((r) => [r.bucket, num(r.all_requests)])).toEqual([
      ["2025-03-01 10:00:00", 2], ["2025-03-01 11:00:00", 2], ["2025-03-01 12:00:00", 1], ["2025-03-02 09:00:00", 1],
    ]);
  });

  test("top tenants by cost", async () => {
    const got = await run<{ tenant: string; cost_usd: number; requests: number; tokens_in: number; tokens_out: number }>("Top tenants by cost");
    expect(got.map((r) => [r.tenant, num(r.cost_usd), num(r.requests), num(r.tokens_in), num(r.tokens_out)])).toEqual([
      ["acme", 0.01515, 4, 1500, 720],
      ["globex", 0.004245, 3, 650, 225],
    ]);
  });

  test("cost and requests by provider and by model", async () => {
    const byProvider = await run<{ provider: string; cost_usd: number; requests: number; errors: number; p95_ms: number }>("Cost and requests by provider");
    expect(byProvider.map((r) => [r.provider, num(r.cost_usd), num(r.requests), num(r.errors), num(r.p95_ms)])).toEqual(
      ["anthropic", "openai"].map((p) => {
        const rs = inside(DAYS).filter((r) => r.provider === p);
        return [p, usd(expectedMetrics(rs).cost_micros), rs.length, rs.filter((r) => r.status === "error").length, expectedMetrics(rs).p95_ms];
      }),
    );
    const byModel = await run<{ provider: string; model: string; cost_usd: number; requests: number; cache_hit_rate: number }>("Cost and requests by model");
    expect(byModel.map((r) => [r.provider, r.model, num(r.cost_usd), num(r.requests), num(r.cache_hit_rate)])).toEqual([
      ["anthropic", "claude-3-5-sonnet", 0.0147, 2, 0],
      ["openai", "gpt-4o", 0.00465, 3, 1 / 3],
      ["openai", "gpt-4o-mini", 0.000045, 2, 0],
    ]);
  });

  test("latency percentiles, cache hit rate and error rate per hour, whole days and mid-hour", async () => {
    for (const range of [DAYS, MID_HOUR]) {
      const hours = new Map<string, UsageRow[]>();
      for (const r of inside(range)) hours.set(hourOf(r), [...(hours.get(hourOf(r)) ?? []), r]);
      const keys = [...hours.keys()].sort();
      const latency = await run<{ bucket: string; p50: number; p95: number; p99: number }>("Latency p50 / p95 / p99", { range });
      expect(latency.map((r) => [r.bucket, num(r.p50), num(r.p95), num(r.p99)])).toEqual(
        keys.map((k) => {
          const lat = hours.get(k)!.map((r) => r.latency_ms);
          return [k, quantile(lat, 0.5), quantile(lat, 0.95), quantile(lat, 0.99)];
        }),
      );
      const cache = await run<{ bucket: string; cache_hit_rate: number }>("Cache hit rate over time", { range });
      expect(cache.map((r) => [r.bucket, num(r.cache_hit_rate)])).toEqual(keys.map((k) => [k, expectedMetrics(hours.get(k)!).cache_hit_rate]));
      const errors = await run<{ bucket: string; error_rate: number }>("Error rate over time", { range });
      expect(errors.map((r) => [r.bucket, num(r.error_rate)])).toEqual(keys.map((k) => [k, expectedMetrics(hours.get(k)!).error_rate]));
    }
    const latency = await run<{ bucket: string; p50: number }>("Latency p50 / p95 / p99", { range: MID_HOUR });
    expect(latency[0]).toEqual({ bucket: "2025-03-01 10:00:00", p50: 400, p95: 400, p99: 400 } as never); // only the 10:40 request
  });

  test("errors by code", async () => {
    const got = await run<{ code: string; errors: number }>("Errors by code");
    expect(got.map((r) => [r.code, num(r.errors)])).toEqual([["upstream_timeout", 1]]);
    expect(await run("Errors by code", { tenant: { selected: ["acme"] } })).toEqual([]);
  });
});
