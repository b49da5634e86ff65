/**
 * ClickHouseAnalyticsStore against a real ClickHouse server it kills and restarts: a SECOND server of
 * this file's own (scripts/clickhouse.sh, own port, a password on its `default` user), so the shared
 * one (CLICKHOUSE_TEST_URL) is never disturbed. Covers retry with backoff across a restart and the
 * server-down error. Needs the clickhouse-server binary, which is there whenever
 * CLICKHOUSE_TEST_URL came from scripts/with-services.sh. See clickhouse-server.test.ts for the rest.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freePort, servicesOrFail } from "../helpers/services.ts";
import { AnalyticsUnavailableError, ClickHouseAnalyticsStore } from "../../src/analytics/clickhouse-store.ts";
import { TOTALS_SQL, countSql, expectedTotals, makeRows, portableTable, script, spySleep, uniqDb } from "./clickhouse-server.helpers.ts";

const NAME = "ClickHouseAnalyticsStore against a real ClickHouse server";

const SHARED_URL = servicesOrFail(["clickhouse"], `${NAME}: own server`)?.clickhouseTestUrl;

if (SHARED_URL) {
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
      port = freePort();
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
