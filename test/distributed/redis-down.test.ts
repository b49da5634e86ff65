/**
 * Redis goes away under a running gateway: rate limits fail open, budgets fail closed (each
 * with an event), /ready says so, and everything recovers by itself when Redis is back.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { post, startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";
import { REDIS_MISSING, throwawayRedis } from "../helpers/throwaway-redis.ts";
import { availableOrFail } from "../helpers/services.ts";

const ADMIN = "redis-down-admin-0123456789";

if (availableOrFail("Redis unavailable", "redis-server", REDIS_MISSING)) {
  const throwaway = throwawayRedis("redis-down");
  let gw: TestGateway | undefined;
  const startRedis = () => throwaway.start();
  const stopRedis = () => throwaway.stop();
  const port = new URL(throwaway.url).port;
  afterAll(async () => {
    await gw?.dispose().catch(() => {});
    await throwaway.dispose();
  });

  describe("Redis unavailable", () => {
    test("rate limits fail open, budgets fail closed, /ready reports it, recovery is automatic", async () => {
      await startRedis();
      gw = await startTestGateway({ REDIS_URL: `redis://127.0.0.1:${port}`, TOLLGATE_ADMIN_KEY: ADMIN });
      const admin = (path: string, body: unknown) => fetch(`${gw!.url}${path}`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, body: JSON.stringify(body) });
      expect((await admin("/api/v1/admin/tenants", { id: "t", name: "T" })).status).toBe(201);
      const rpmKey = ((await (await admin("/api/v1/admin/keys", { tenant_id: "t", name: "rpm", rpm_limit: 1000 })).json()) as { key: string }).key;
      const budgetKey = ((await (await admin("/api/v1/admin/keys", { tenant_id: "t", name: "budget", budget: { amount_usd: 10, period: "day" } })).json()) as { key: string }).key;
      const chat = (key: string) => post(`${gw!.url}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${key}` });
      expect((await chat(rpmKey)).status).toBe(200);
      expect((await chat(budgetKey)).status).toBe(200);

      await stopRedis();
      const open = await chat(rpmKey);
      expect(open.status).toBe(200); // fail open
      const closed = await chat(budgetKey);
      expect(closed.status).toBe(503); // fail closed
      expect(((await closed.json()) as { error: { code: string } }).error.code).toBe("budget_unavailable");
      const ready = await fetch(`${gw.url}/ready`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: { state_store: { ok: boolean } } }).checks.state_store.ok).toBe(false);
      const types = (await gw.events()).map((e) => e.type);
      expect(types).toContain("ratelimit.failed_open");
      expect(types).toContain("budget.unavailable");

      await startRedis(); // an empty Redis on the same port: the client reconnects by itself
      await waitFor(async () => (await fetch(`${gw!.url}/ready`)).status === 200, 15_000, "/ready to recover");
      await waitFor(async () => (await chat(budgetKey)).status === 200, 15_000, "budgets to work again");
      expect((await chat(rpmKey)).headers.get("x-ratelimit-limit-requests")).toBe("1000");
    }, 60_000);
  });
}
