/**
 * ClickHouseAnalyticsStore: the server-down behaviour, which needs no server (a port nobody
 * listens on). The driver against a real server process is in `clickhouse-server.test.ts`.
 */
import { describe, expect, test } from "bun:test";
import { ClickHouseError } from "@clickhouse/client";
import { AnalyticsUnavailableError, ClickHouseAnalyticsStore, isConnectionError } from "../../src/analytics/clickhouse-store.ts";
import { usageSummary } from "../../src/analytics/queries.ts";
import { fixtureRows, RANGE } from "./fixtures.ts";
import { freePort } from "../helpers/services.ts";

describe("ClickHouseAnalyticsStore: server down", () => {
  test("operations retry with backoff, then fail with a clear, typed error (no password in it)", async () => {
    const port = freePort();
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
