/**
 * ClickHouseAnalyticsStore: the server-down behaviour, which needs no server (a port nobody
 * listens on). The driver against a real server process is in `clickhouse-server.test.ts`.
 */
import { describe, expect, test } from "bun:test";
import { createServer } from "node:net";
import { AnalyticsUnavailableError, ClickHouseAnalyticsStore, isConnectionError } from "../../src/analytics/clickhouse-store.ts";
import { usageSummary } from "../../src/analytics/queries.ts";
import { fixtureRows, RANGE } from "./fixtures.ts";

/** A local port with nothing listening on it. */
async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

describe("ClickHouseAnalyticsStore: server down", () => {
  test("operations retry with backoff, then fail with a clear, typed error (no password in it)", async () => {
    const port = await freePort();
    const store = await ClickHouseAnalyticsStore.connect({ url: `http://default:s3cret@127.0.0.1:${port}`, maxAttempts: 3, backoffMs: 20 });
    try {
      const started = performance.now();
      const error = await store.insert(fixtureRows()).then(() => undefined, (e: unknown) => e);
      const ms = performance.now() - started;
      expect(error).toBeInstanceOf(AnalyticsUnavailableError);
      const message = (error as Error).message;
      expect(message).toContain(`127.0.0.1:${port}`);
      expect(message).toContain("unreachable");
      expect(message).toContain("3 attempts");
      expect(message).not.toContain("s3cret");
      expect((error as AnalyticsUnavailableError).code).toBe("analytics_unavailable");
      expect(ms).toBeGreaterThanOrEqual(55); // backoff 20 + 40 ms between the three attempts
      await expect(usageSummary(store, RANGE)).rejects.toBeInstanceOf(AnalyticsUnavailableError);
      const h = await store.health();
      expect(h.ok).toBe(false);
      expect(h.error).not.toContain("s3cret");
    } finally {
      await store.close();
    }
  });

  test("errors the server answered with are not retried as connection errors", () => {
    expect(isConnectionError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }))).toBe(true);
    expect(isConnectionError(new Error("Code: 62. DB::Exception: Syntax error"))).toBe(false);
  });
});
