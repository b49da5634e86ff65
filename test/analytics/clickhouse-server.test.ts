/**
 * ClickHouseAnalyticsStore against a REAL ClickHouse server process (scripts/clickhouse.sh; make test
 * starts one through scripts/with-services.sh and exports CLICKHOUSE_TEST_URL).
 *
 * The server Debian ships is 18.16 (2018): too old for the real schema (no DateTime64, no
 * LowCardinality, no `{name:Type}` query parameters, no insert_deduplication_token, no
 * `DROP DATABASE … SYNC`). So these tests cover what the driver itself does over HTTP — connection,
 * health, batched JSONEachRow inserts, server errors vs. connection errors, retry with backoff
 * across a server restart, the server-down error — on a portable `usage_events` table with the
 * `UsageRow` columns in types every version has. The schema and the queries are covered by the
 * contract on chDB (chdb.test.ts); see docs/analytics-clickhouse-server.md.
 *
 * The restart/server-down cases start a SECOND server of their own (same script, own port, a
 * password on its `default` user) that they can SIGKILL and restart freely, so the shared one is
 * never disturbed. That needs the clickhouse-server binary on this machine (scripts/clickhouse.sh
 * install), which is the case whenever CLICKHOUSE_TEST_URL came from scripts/with-services.sh.
 *
 * Attempts are counted structurally: the store pauses with `Bun.sleep(backoff)` between attempts,
 * so a spy on Bun.sleep sees one call per retry (none = the error was not retried).
 *
 * Stores whose requests are expected to fail get `?log_level=OFF` in their URL (a @clickhouse/client
 * URL parameter): the client would otherwise log a stack trace per failed request.
 */
import { afterAll, afterEach, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { servicesOrFail } from "../helpers/services.ts";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { ClickHouseError } from "@clickhouse/client";
import { AnalyticsUnavailableError, ClickHouseAnalyticsStore, isConnectionError } from "../../src/analytics/clickhouse-store.ts";
import { toClickHouseTime, type UsageRow } from "../../src/analytics/schema.ts";

const ROOT = resolve(import.meta.dir, "../..");
const SCRIPT = resolve(ROOT, "scripts/clickhouse.sh");
const NAME = "ClickHouseAnalyticsStore against a real ClickHouse server";

/** A local port with nothing listening on it. */
async function freePort(): Promise<number> {
  return await new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
    srv.on("error", reject);
  });
}

/** Runs scripts/clickhouse.sh with extra env; throws with its stderr when it fails. */
async function script(cmd: "start" | "stop" | "kill", env: Record<string, string>): Promise<{ stdout: string; ms: number }> {
  const started = performance.now();
  const proc = Bun.spawn(["bash", SCRIPT, cmd], { cwd: ROOT, env: { ...process.env, ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`scripts/clickhouse.sh ${cmd} exited ${code}: ${stderr.trim()}`);
  return { stdout, ms: performance.now() - started };
}

const uniqDb = () => `tollgate_test_${crypto.randomUUID().replaceAll("-", "")}`;

/** `usage_events` with the UsageRow columns in types ClickHouse 18.16 has (the real DDL is in schema.ts). */
const portableTable = (db: string) => `CREATE TABLE ${db}.usage_events (
  time String,
  event_id String,
  request_id String,
  tenant String,
  service String,
  user String,
  key_prefix String,
  task_type String,
  provider String,
  model String,
  route String,
  input_tokens UInt32,
  output_tokens UInt32,
  cached_tokens UInt32,
  cost_micros UInt64,
  latency_ms Float64,
  ttft_ms Nullable(Float64),
  cached UInt8,
  status String,
  error_code String,
  attempts UInt8
) ENGINE = MergeTree ORDER BY (tenant, event_id)`;
// time is a String: the store sends `2025-01-02 10:33:00.123` (toClickHouseTime, for DateTime64),
// which 18.16's DateTime cannot parse (no fractional seconds).

const TENANTS = ["acme", "globex", "initech"] as const;

/** Deterministic rows: row `i` of batch `b`; ids unique across batches. */
function makeRows(batch: number, count: number): UsageRow[] {
  const rows: UsageRow[] = [];
  for (let i = 0; i < count; i++) {
    const n = batch * 100_000 + i;
    rows.push({
      time: new Date(Date.UTC(2025, 2, 1, 0, 0, 0, 0) + n * 1_001).toISOString(),
      event_id: `ev-${batch}-${i}`,
      request_id: `req-${n}`,
      tenant: TENANTS[i % TENANTS.length]!,
      service: i % 2 ? "web" : "batch",
      user: `user-${i % 7}`,
      key_prefix: "tg_abc",
      task_type: "",
      provider: i % 5 ? "openai" : "anthropic",
      model: i % 5 ? "gpt-4o" : "claude-3-5-sonnet",
      route: "smart",
      input_tokens: 100 + (i % 50),
      output_tokens: 10 + (i % 13),
      cached_tokens: i % 4 === 0 ? 20 : 0,
      cost_micros: 1_000 + i * 7 + batch,
      latency_ms: 50 + (i % 10) * 0.5,
      ttft_ms: i % 3 === 0 ? null : 20 + (i % 5),
      cached: i % 9 === 0 ? 1 : 0,
      status: i % 11 === 0 ? "error" : "ok",
      error_code: i % 11 === 0 ? "upstream_timeout" : "",
      attempts: 1 + (i % 2),
    });
  }
  return rows;
}

interface Totals {
  tenant: string;
  n: number;
  ids: number;
  input: number;
  output: number;
  cost: number;
  latency: number;
  no_ttft: number;
  cached: number;
  errors: number;
}

function expectedTotals(rows: readonly UsageRow[]): Totals[] {
  const by = new Map<string, Totals>();
  for (const r of rows) {
    const t = by.get(r.tenant) ?? { tenant: r.tenant, n: 0, ids: 0, input: 0, output: 0, cost: 0, latency: 0, no_ttft: 0, cached: 0, errors: 0 };
    t.n++;
    t.ids++;
    t.input += r.input_tokens;
    t.output += r.output_tokens;
    t.cost += r.cost_micros;
    t.latency += r.latency_ms;
    if (r.ttft_ms === null) t.no_ttft++;
    t.cached += r.cached;
    if (r.status === "error") t.errors++;
    by.set(r.tenant, t);
  }
  return [...by.values()].sort((a, b) => a.tenant.localeCompare(b.tenant));
}

const TOTALS_SQL = (db: string) => `
  SELECT tenant, count() AS n, uniqExact(event_id) AS ids,
         sum(input_tokens) AS input, sum(output_tokens) AS output, sum(cost_micros) AS cost,
         sum(latency_ms) AS latency, countIf(isNull(ttft_ms)) AS no_ttft,
         sum(cached) AS cached, countIf(status = 'error') AS errors
  FROM ${db}.usage_events GROUP BY tenant ORDER BY tenant`;

const countSql = (db: string) => `SELECT count() AS n, uniqExact(event_id) AS ids FROM ${db}.usage_events`;

/**
 * Bun.sleep spied: `calls` holds the pause of each call made by the store (its backoffs); the real
 * sleep still runs. Calls from elsewhere (other loops alive in this test process) are not counted.
 */
function spySleep(onCall?: (ms: number, call: number) => void) {
  const real = Bun.sleep.bind(Bun);
  const calls: number[] = [];
  const spy = spyOn(Bun, "sleep").mockImplementation(((ms: number | Date) => {
    if (new Error().stack?.includes("clickhouse-store.ts")) {
      const pause = typeof ms === "number" ? ms : ms.getTime() - Date.now();
      calls.push(pause);
      onCall?.(pause, calls.length);
    }
    return real(ms);
  }) as typeof Bun.sleep);
  return { calls, restore: () => spy.mockRestore() };
}

// Needs no server: the classification the real server showed wrong (a rejected row whose
// error_code was `upstream_timeout` was retried as a "timeout" for minutes).
describe("isConnectionError: what the server answered is never a connection error", () => {
  test("server errors quoting transport words are not retried; transport errors still are", () => {
    const oldFormat = 'Code: 27, e.displayText() = DB::Exception: Cannot parse input: expected " before: many","error_code":"upstream_timeout"}: (at row 11)\n, e.what() = DB::Exception';
    expect(isConnectionError(new Error(oldFormat))).toBe(false);
    expect(isConnectionError(new Error("Code: 159. DB::Exception: Timeout exceeded: elapsed 5.1 seconds. (TIMEOUT_EXCEEDED)"))).toBe(false);
    expect(isConnectionError(new ClickHouseError({ message: "Timeout exceeded: elapsed 5.1 seconds", code: "159", type: "TIMEOUT_EXCEEDED" }))).toBe(false);
    expect(isConnectionError(new Error("Timeout error."))).toBe(true); // the client's request_timeout
    expect(isConnectionError(new Error("socket hang up"))).toBe(true);
    expect(isConnectionError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }))).toBe(true);
    expect(isConnectionError(new Error("request failed", { cause: Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }) }))).toBe(true);
  });
});

const SHARED_URL = servicesOrFail(["clickhouse"], NAME)?.clickhouseTestUrl;

if (SHARED_URL) {
  describe(NAME, () => {
    /** A store on the default database, for CREATE/DROP DATABASE (store.drop() uses `SYNC`, which 18.16 rejects). */
    let admin: ClickHouseAnalyticsStore;
    let db: string;
    let store: ClickHouseAnalyticsStore;
    let version = "";

    beforeAll(async () => {
      admin = await ClickHouseAnalyticsStore.connect({ url: SHARED_URL, database: "default" });
      db = uniqDb();
      await admin.exec(`CREATE DATABASE ${db}`);
      store = await ClickHouseAnalyticsStore.connect({ url: SHARED_URL, database: db });
      await store.exec(portableTable(db));
    });

    afterAll(async () => {
      await admin?.exec(`DROP DATABASE IF EXISTS ${db}`);
      await Promise.all([store?.close(), admin?.close()]);
    });

    test("connects; health() is ok and reports the server's version", async () => {
      const h = await store.health();
      expect(h.ok).toBe(true);
      expect(h.kind).toBe("clickhouse");
      expect(h.error).toBeUndefined();
      expect(h.version).toMatch(/^\d+\.\d+\.\d+/); // 18.16.1 from Debian's package
      version = h.version!;
      const [row] = await store.query<{ v: string; db: string }>("SELECT version() AS v, currentDatabase() AS db");
      expect(row).toEqual({ v: version, db });
      console.info(`[clickhouse-server] ${SHARED_URL}: ClickHouse ${version}`);
    });

    test("batched inserts: three JSONEachRow batches, 6,000 rows, exact counts and sums read back", async () => {
      const batches = [makeRows(1, 1_000), makeRows(2, 2_500), makeRows(3, 2_500)];
      // No dedupToken: 18.16 rejects insert_deduplication_token (see the next describe's last test).
      for (const rows of batches) await store.insert(rows);
      const all = batches.flat();

      const totals = await store.query<Totals>(TOTALS_SQL(db));
      const expected = expectedTotals(all);
      expect(totals).toEqual(expected); // latencies are multiples of 0.5: their float sums are exact
      expect(totals.reduce((s, t) => s + t.n, 0)).toBe(6_000);
      // UInt64 sums arrive as JSON numbers (the store sets output_format_json_quote_64bit_integers=0).
      expect(typeof totals[0]!.cost).toBe("number");

      // Rows arrive as sent: the time in the format toClickHouseTime gives, NULL kept, strings intact.
      const sample = batches[1]![3]!;
      const [back] = await store.query<Record<string, unknown>>(`SELECT * FROM ${db}.usage_events WHERE event_id = '${sample.event_id}'`);
      expect(back).toEqual({ ...sample, time: toClickHouseTime(sample.time) });
      expect((await store.query<{ n: number }>(`SELECT count() AS n FROM ${db}.usage_events WHERE ttft_ms IS NULL`))[0]!.n).toBe(all.filter((r) => r.ttft_ms === null).length);
    }, 30_000);

    test("an empty batch sends nothing and succeeds", async () => {
      const before = await store.query<{ n: number }>(countSql(db));
      await store.insert([]);
      expect(await store.query<{ n: number }>(countSql(db))).toEqual(before);
    });
  });

  describe(`${NAME}: errors the server answers are not retried`, () => {
    let admin: ClickHouseAnalyticsStore;
    let db: string;
    let store: ClickHouseAnalyticsStore;
    let sleeps: ReturnType<typeof spySleep> | undefined;

    beforeAll(async () => {
      admin = await ClickHouseAnalyticsStore.connect({ url: SHARED_URL, database: "default" });
      db = uniqDb();
      await admin.exec(`CREATE DATABASE ${db}`);
      // Up to 4 attempts: a wrongly retried server error shows as backoff pauses (and, after them,
      // as an AnalyticsUnavailableError), so the assertions below name the bug instead of timing out.
      store = await ClickHouseAnalyticsStore.connect({ url: `${SHARED_URL}/?log_level=OFF`, database: db, maxAttempts: 4, backoffMs: 5 });
      await store.exec(portableTable(db));
    });
    afterEach(() => {
      sleeps?.restore();
      sleeps = undefined;
    });
    afterAll(async () => {
      await admin?.exec(`DROP DATABASE IF EXISTS ${db}`);
      await Promise.all([store?.close(), admin?.close()]);
    });

    /** The error an operation rejects with, and how many backoff pauses it took. */
    async function failure(op: () => Promise<unknown>): Promise<{ error: Error; retries: number }> {
      sleeps = spySleep();
      const error = await op().then(
        () => {
          throw new Error("expected the operation to fail");
        },
        (e: unknown) => e as Error,
      );
      const retries = sleeps.calls.length;
      sleeps.restore();
      sleeps = undefined;
      return { error, retries };
    }

    test("bad SQL: the server's syntax error surfaces at once, not as analytics_unavailable", async () => {
      for (const op of [() => store.exec("SELEC 1"), () => store.query("SELEC 1")]) {
        const { error, retries } = await failure(op);
        expect(retries).toBe(0);
        expect(error).not.toBeInstanceOf(AnalyticsUnavailableError);
        expect(error.message).toMatch(/Code: 62\b.*Syntax error/);
      }
    }, 10_000);

    test("unknown table (query) and a row the server cannot parse (insert): server errors, no retry", async () => {
      const q = await failure(() => store.query(`SELECT count() FROM ${db}.no_such_table`));
      expect(q.retries).toBe(0);
      expect(q.error).not.toBeInstanceOf(AnalyticsUnavailableError);
      expect(q.error.message).toMatch(/Code: 60\b/); // UNKNOWN_TABLE

      // A row with a string where a UInt32 goes: the server refuses the whole batch.
      const bad = { ...makeRows(9, 1)[0]!, input_tokens: "many" as unknown as number };
      const i = await failure(() => store.insert([...makeRows(8, 10), bad]));
      expect(i.retries).toBe(0);
      expect(i.error).not.toBeInstanceOf(AnalyticsUnavailableError);
      expect(i.error.message).toMatch(/Code: \d+/);
      expect((await store.query<{ n: number }>(countSql(db)))[0]!.n).toBe(0); // nothing of that batch landed
    }, 10_000);

    test("the same store keeps working after server errors", async () => {
      await store.insert(makeRows(7, 5));
      expect(await store.query(countSql(db))).toEqual([{ n: 5, ids: 5 }]);
      expect((await store.health()).ok).toBe(true);
    });

    test("insert with a dedupToken: a server without insert_deduplication_token says so (not retried)", async () => {
      const [{ v }] = (await store.query<{ v: string }>("SELECT version() AS v")) as [{ v: string }];
      const major = Number(v.split(".")[0]);
      if (major >= 22) {
        // A modern server knows the setting: the insert goes through.
        await store.insert(makeRows(6, 3), "tok-1");
        return;
      }
      // 18.16: the setting is unknown (Code 115). The projection's exactly-once needs it, which is
      // one reason the gateway needs ClickHouse >= 23.x; the driver is tested without tokens here.
      const { error, retries } = await failure(() => store.insert(makeRows(6, 3), "tok-1"));
      expect(retries).toBe(0);
      expect(error).not.toBeInstanceOf(AnalyticsUnavailableError);
      expect(error.message).toMatch(/Code: 115\b.*insert_deduplication_token/);
    }, 10_000);
  });

  describe(`${NAME}: own server killed and restarted (retry, server down)`, () => {
    const password = `pw-${crypto.randomUUID()}`;
    let port = 0;
    let env: Record<string, string> = {};
    let db: string;
    let startMs = 0;

    const start = async (keepData: boolean) => {
      const { stdout, ms } = await script("start", { ...env, CLICKHOUSE_KEEP_DATA: keepData ? "1" : "" });
      expect(stdout.trim()).toBe(`CLICKHOUSE_TEST_URL=http://127.0.0.1:${port}`);
      return ms;
    };
    const kill = () => script("kill", env);
    const open = (o: { maxAttempts: number; backoffMs: number }) =>
      ClickHouseAnalyticsStore.connect({ url: `http://127.0.0.1:${port}/?log_level=OFF`, username: "default", password, database: db, ...o });

    beforeAll(async () => {
      port = await freePort();
      env = { CLICKHOUSE_HTTP_PORT: String(port), CLICKHOUSE_TCP_PORT: "", CLICKHOUSE_TEST_PASSWORD: password };
      startMs = await start(false);
      console.info(`[clickhouse-server] own server on :${port} started in ${Math.round(startMs)} ms (script included)`);
      db = uniqDb();
      const admin = await ClickHouseAnalyticsStore.connect({ url: `http://127.0.0.1:${port}`, username: "default", password, database: "default" });
      await admin.exec(`CREATE DATABASE ${db}`);
      await admin.exec(portableTable(db));
      await admin.close();
    }, 60_000);

    afterAll(async () => {
      if (port) await script("stop", env);
    }, 30_000);

    test("the password is required (it is a real auth) and accepted from the options", async () => {
      const anon = await ClickHouseAnalyticsStore.connect({ url: `http://127.0.0.1:${port}/?log_level=OFF`, database: db });
      const h = await anon.health();
      expect(h.ok).toBe(false);
      expect(h.error).toMatch(/Code: 194\b|password/i); // "Password required for user default"
      await anon.close();
      const store = await open({ maxAttempts: 1, backoffMs: 1 });
      expect((await store.health()).ok).toBe(true);
      await store.close();
    });

    test("retry: server killed, insert started, server back during the backoff → the batch lands exactly once", async () => {
      const store = await open({ maxAttempts: 5, backoffMs: 1_000 }); // pauses 1 + 2 + 4 + 8 s: room for a restart
      const first = makeRows(1, 500);
      await store.insert(first); // a pooled keep-alive socket now exists: the kill leaves it stale
      await kill();

      let restarted: Promise<number> | undefined;
      const sleeps = spySleep((_ms, call) => {
        if (call === 1) restarted = start(true); // during the first backoff pause
      });
      const second = makeRows(2, 1_500);
      try {
        await store.insert(second);
        expect(restarted).toBeDefined(); // it succeeded only after the restart began
        expect(sleeps.calls.length).toBeGreaterThanOrEqual(1); // the first attempt failed and was retried
        expect(sleeps.calls[0]).toBe(1_000);
      } finally {
        sleeps.restore();
      }
      console.info(`[clickhouse-server] restart took ${Math.round(await restarted!)} ms; insert retried ${sleeps.calls.length}x`);

      // Exactly once: the refused attempts never reached the server; the data of before the kill survived.
      expect(await store.query(countSql(db))).toEqual([{ n: 2_000, ids: 2_000 }]);
      expect(await store.query(TOTALS_SQL(db))).toEqual(expectedTotals([...first, ...second]));
      await store.close();
    }, 40_000);

    test("server down: typed analytics_unavailable errors naming the URL, never the password; health() ok:false; same store works after a restart", async () => {
      const store = await open({ maxAttempts: 3, backoffMs: 50 });
      const viaUrl = await ClickHouseAnalyticsStore.connect({ url: `http://default:${encodeURIComponent(password)}@127.0.0.1:${port}/?log_level=OFF`, database: db, maxAttempts: 2, backoffMs: 10 });
      expect((await store.health()).ok).toBe(true);
      expect((await viaUrl.health()).ok).toBe(true);
      await kill();

      const sleeps = spySleep();
      try {
        for (const [what, op] of [
          ["insert", () => store.insert(makeRows(3, 10))],
          ["query", () => store.query(countSql(db))],
          ["exec", () => store.exec(`INSERT INTO ${db}.usage_events (event_id) VALUES ('x')`)],
        ] as const) {
          sleeps.calls.length = 0;
          const error = await (op as () => Promise<unknown>)().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(AnalyticsUnavailableError);
          const e = error as AnalyticsUnavailableError;
          expect(e.code).toBe("analytics_unavailable");
          expect(e.message).toContain(`http://127.0.0.1:${port}/`);
          expect(e.message).toContain(`(${what}, 3 attempts)`);
          expect(e.message).not.toContain(password);
          expect(sleeps.calls).toEqual([50, 100]); // 3 attempts: two backoff pauses, doubling
        }
        // Credentials in the URL are redacted from the message too.
        const e2 = await viaUrl.query("SELECT 1").then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(e2).toBeInstanceOf(AnalyticsUnavailableError);
        expect(e2!.message).toContain(`127.0.0.1:${port}`);
        expect(e2!.message).not.toContain(password);
        expect(e2!.message).not.toContain("default:");
      } finally {
        sleeps.restore();
      }

      for (const s of [store, viaUrl]) {
        const h = await s.health(); // resolves, never throws
        expect(h.ok).toBe(false);
        expect(h.kind).toBe("clickhouse");
        expect(h.error).toContain(`127.0.0.1:${port}`);
        expect(h.error).not.toContain(password);
      }

      await start(true);
      // The same instances work again, and nothing of the failed operations landed.
      expect((await store.health()).ok).toBe(true);
      expect((await viaUrl.health()).ok).toBe(true);
      const [{ n }] = (await store.query<{ n: number }>(countSql(db))) as [{ n: number }];
      await store.insert(makeRows(4, 25));
      expect(await viaUrl.query(countSql(db))).toEqual([{ n: n + 25, ids: n + 25 }]);
      await Promise.all([store.close(), viaUrl.close()]);
    }, 40_000);
  });
}
