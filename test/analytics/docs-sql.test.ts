/**
 * Every SQL statement in docs/analytics.md runs on the real engine (chDB) against the real schema
 * with known rows, so the examples for analysts stay correct.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ChdbAnalyticsStore } from "../../src/analytics/chdb-store.ts";
import { fixtureRows } from "./fixtures.ts";

const doc = readFileSync(resolve(import.meta.dir, "../../docs/analytics.md"), "utf8");
const statements = [...doc.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
const dir = mkdtempSync(join(tmpdir(), "tollgate-docs-sql-"));
let store: ChdbAnalyticsStore;

beforeAll(async () => {
  store = await ChdbAnalyticsStore.open(dir, { database: "tollgate" });
  await store.migrate();
  // The fixture rows, moved to just now (the examples include "this month").
  const now = Date.now();
  await store.insert(fixtureRows().map((r, i) => ({ ...r, time: new Date(now - i).toISOString() })));
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test("docs/analytics.md has SQL examples", () => {
  expect(statements.length).toBeGreaterThanOrEqual(6);
});

test.each(statements.map((sql) => [sql.split("\n")[0]!, sql]))("runs and returns rows: %s", async (_first, sql) => {
  const rows = await store.query<Record<string, unknown>>(sql);
  expect(rows.length).toBeGreaterThan(0);
});

test("the spend-per-tenant example gives the exact fixture totals", async () => {
  const rows = await store.query<{ tenant: string; cost_usd: number; requests: number }>(statements[0]!);
  const byTenant = Object.fromEntries(rows.map((r) => [r.tenant, r]));
  // acme: 0.00125 + 0.0034 + 0.0105 + 0 + 1 (the row outside the fixture's range is "now" here too)
  expect(byTenant.acme).toEqual({ tenant: "acme", cost_usd: 1.01515, requests: 5 });
  expect(byTenant.globex).toEqual({ tenant: "globex", cost_usd: 0.004245, requests: 3 });
});
