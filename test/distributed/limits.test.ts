/**
 * Budgets and rate limits are exact across two gateway instances sharing one real Redis
 * (and Kafka for config): 200 concurrent requests against a budget that fits 50, and against
 * an RPM limit of 30.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { countPromptTokens } from "../../src/providers/tokens.ts";
import { startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";
import { servicesOrFail, uniq } from "../helpers/services.ts";

const ADMIN = "limits-admin-key-0123456789";
const services = servicesOrFail(["kafka", "redis"], "limits across instances");

if (services) {
  const id = uniq();
  const env = {
    KAFKA_BROKERS: services.kafkaBrokers!,
    REDIS_URL: services.redisUrl!,
    TOLLGATE_KAFKA_TOPIC_PREFIX: `l${id}.`,
    TOLLGATE_REDIS_PREFIX: `l${id}:`,
    TOLLGATE_ADMIN_KEY: ADMIN,
  };
  const gateways: TestGateway[] = [];
  afterAll(async () => {
    for (const gw of gateways) await gw.dispose().catch(() => {});
  });
  const admin = (gw: TestGateway, method: string, path: string, body?: unknown) =>
    fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, ...(body ? { body: JSON.stringify(body) } : {}) });

  // Echo answers with the prompt truncated to max_tokens: every request costs exactly its reservation.
  const PROMPT = "one two three four five six seven eight nine ten eleven twelve";
  const MAX = 5;
  const messages = [{ role: "user" as const, content: PROMPT }];
  const costMicros = countPromptTokens(messages) * 1000 + MAX * 2000; // prices below: 1000 / 2000 USD per 1M tokens

  async function twoInstances() {
    const a = await startTestGateway(env);
    gateways.push(a);
    const b = await startTestGateway(env);
    gateways.push(b);
    return [a, b] as const;
  }

  describe("limits across instances", () => {
    test("200 concurrent requests against a budget that fits 50: exactly 50 succeed, spend never exceeds the budget", async () => {
      const [a, b] = await twoInstances();
      expect((await admin(a, "POST", "/api/v1/prices", { id: "echo/echo", input: 1000, output: 2000 })).status).toBe(201);
      expect((await admin(a, "POST", "/api/v1/admin/tenants", { id: "acme", name: "Acme" })).status).toBe(201);
      const created = await admin(a, "POST", "/api/v1/admin/keys", { tenant_id: "acme", name: "budgeted", budget: { amount_usd: (50 * costMicros) / 1e6, period: "day" } });
      expect(created.status).toBe(201);
      const { key } = (await created.json()) as { key: string };
      await waitFor(() => b.snapshot.tenancy?.anyKeys && b.snapshot.prices["echo/echo"], 5000, "instance b to see the key and price");
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          fetch(`${(i % 2 ? a : b).url}/v1/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
            body: JSON.stringify({ model: "echo", max_tokens: MAX, messages }),
          }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error?: { code: string } } })),
        ),
      );
      const ok = results.filter((r) => r.status === 200).length;
      const refused = results.filter((r) => r.status === 429 && r.body.error?.code === "budget_exceeded").length;
      expect(ok).toBe(50);
      expect(refused).toBe(150);
      // The spend recorded (settled to the actual cost) equals exactly what fitted.
      const self = (await (await fetch(`${a.url}/api/v1/keys/self`, { headers: { authorization: `Bearer ${key}` } })).json()) as { budgets: Array<{ spent_usd: number; reserved_usd: number; limit_usd: number }> };
      await waitFor(async () => {
        const s = (await (await fetch(`${a.url}/api/v1/keys/self`, { headers: { authorization: `Bearer ${key}` } })).json()) as typeof self;
        return s.budgets[0]!.reserved_usd === 0;
      }, 5000, "every reservation settled");
      const after = (await (await fetch(`${a.url}/api/v1/keys/self`, { headers: { authorization: `Bearer ${key}` } })).json()) as typeof self;
      expect(Math.round(after.budgets[0]!.spent_usd * 1e6)).toBe(50 * costMicros);
      expect(after.budgets[0]!.spent_usd).toBeLessThanOrEqual(after.budgets[0]!.limit_usd);
    }, 60_000);

    test("an RPM limit of 30 admits exactly 30 of 200 concurrent requests across both instances", async () => {
      const [a, b] = gateways;
      const created = await admin(a!, "POST", "/api/v1/admin/keys", { tenant_id: "acme", name: "rpm", rpm_limit: 30 });
      const { key } = (await created.json()) as { key: string };
      await waitFor(() => [...(b!.snapshot.tenancy?.keys.values() ?? [])].some((k) => k.name === "rpm"), 5000, "instance b to see the key");
      const statuses = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          fetch(`${(i % 2 ? a! : b!).url}/v1/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
            body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "hi" }] }),
          }).then(async (r) => {
            await r.arrayBuffer();
            return { status: r.status, retryAfter: r.headers.get("retry-after"), remaining: r.headers.get("x-ratelimit-remaining-requests") };
          }),
        ),
      );
      expect(statuses.filter((s) => s.status === 200)).toHaveLength(30);
      const limited = statuses.filter((s) => s.status === 429);
      expect(limited).toHaveLength(170);
      expect(limited.every((s) => Number(s.retryAfter) >= 1)).toBe(true);
      expect(statuses.filter((s) => s.status === 200).map((s) => Number(s.remaining)).sort((x, y) => x - y)[0]).toBe(0);
    }, 60_000);

    test("revocation on one instance is enforced by the other within 1 s", async () => {
      const [a, b] = gateways;
      const created = (await (await admin(a!, "POST", "/api/v1/admin/keys", { tenant_id: "acme", name: "short-lived" })).json()) as { id: string; key: string };
      const call = () => fetch(`${b!.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${created.key}` }, body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "x" }] }) });
      await waitFor(async () => (await call()).status === 200, 5000, "the key to work on b");
      expect((await admin(a!, "DELETE", `/api/v1/admin/keys/${created.id}`)).status).toBe(200);
      const t0 = performance.now();
      await waitFor(async () => (await call()).status === 401, 3000, "b to refuse the revoked key");
      const lag = performance.now() - t0;
      console.log(`[limits] revocation enforced by the other instance after ${lag.toFixed(0)} ms`);
      expect(lag).toBeLessThan(1000);
    }, 30_000);
  });
}
