/**
 * TOLLGATE_ANALYTICS=query: the gateway serves the usage API from the store but does not run the
 * projection (another instance does, e.g. next to a shared ClickHouse server).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { post, startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";

const ADMIN = "usage-query-admin-key-0123456789";
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN, TOLLGATE_ANALYTICS: "query" });
  await waitFor(() => gw.analytics?.status().state === "ready", 30_000, "analytics ready");
});
afterAll(() => gw.dispose());

test("query mode answers the API, writes nothing and commits no offsets; /ready says it does not project", async () => {
  for (let i = 0; i < 3; i++) expect((await post(`${gw.url}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content: `q ${i}` }] })).status).toBe(200);
  expect((await gw.events()).filter((e) => e.type === "request.completed")).toHaveLength(3);
  await Bun.sleep(1500); // longer than the projection's linger: it would have written by now
  const r = await fetch(`${gw.url}/api/v1/usage/summary?days=1`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(r.status).toBe(200);
  expect(((await r.json()) as { data: { requests: number } }).data.requests).toBe(0);
  expect(await gw.log.committed("requests", "usage-projection")).toEqual((await gw.log.endOffsets("requests")).map(() => 0));
  const ready = (await (await fetch(`${gw.url}/ready`, { headers: { authorization: `Bearer ${gw.adminKey}` } })).json()) as { checks: { analytics: Record<string, unknown> } };
  expect(ready.checks.analytics).toMatchObject({ state: "ready", projecting: false });
  expect(ready.checks.analytics.lag).toBeGreaterThan(0);
});
