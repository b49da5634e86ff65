/**
 * The exact cache on Redis: two gateway instances share entries; a Redis that goes away makes
 * lookups misses (no errors, no stalls), /ready reports the cache degraded, and caching comes
 * back by itself with Redis.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { post, startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";
import { REDIS_MISSING, throwawayRedis } from "../helpers/throwaway-redis.ts";
import { availableOrFail, servicesOrFail, uniq } from "../helpers/services.ts";

const ask = (gw: TestGateway, content: string, headers: Record<string, string> = {}) =>
  post(`${gw.url}/v1/chat/completions`, { model: "echo", temperature: 0, messages: [{ role: "user", content }] }, headers);
const storedIn = (gw: TestGateway, res: Response) => waitFor(async () => (await gw.cache.get("default", res.headers.get("x-tollgate-cache-key")!).catch(() => null)) !== null, 5000, "the entry to be stored");

const services = servicesOrFail(["redis"], "cache on Redis: two instances");
if (services) {
  describe("cache on Redis: two instances", () => {
    const gws: TestGateway[] = [];
    afterAll(async () => {
      await gws[0]?.cache.purge().catch(() => {});
      for (const g of gws) await g.dispose();
    });

    test("an entry stored through one instance is a hit on the other, byte for byte", async () => {
      const env = { REDIS_URL: services.redisUrl!, TOLLGATE_REDIS_PREFIX: `tollgate-test:${uniq()}:` };
      gws.push(await startTestGateway(env), await startTestGateway(env));
      const [one, two] = gws as [TestGateway, TestGateway];
      await waitFor(() => one.cache.health().ok && two.cache.health().ok, 5000, "both caches to connect");
      const q = `shared ${crypto.randomUUID()}`;
      const miss = await ask(one, q);
      expect(miss.headers.get("x-tollgate-cache")).toBe("miss");
      const text = await miss.text();
      await storedIn(one, miss);
      const hit = await ask(two, q);
      expect(hit.headers.get("x-tollgate-cache")).toBe("hit");
      expect(await hit.text()).toBe(text);
      const stats = (await (await fetch(`${two.url}/v1/cache/stats`)).json()) as { store: string; hits: number; entries: number };
      expect(stats.store).toBe("redis");
      expect(stats.entries).toBeGreaterThanOrEqual(1);
      await waitFor(async () => ((await (await fetch(`${one.url}/v1/cache/stats`)).json()) as { hits: number }).hits >= 1, 3000, "the shared hit counter");
    }, 30_000);
  });
}

const besides = servicesOrFail(["redis"], "cache on Redis: the lookup beside admission");
if (besides) {
  describe("cache on Redis: the lookup beside admission (issue 30)", () => {
    let gw: TestGateway | undefined;
    afterAll(async () => {
      await gw?.cache.purge().catch(() => {});
      await gw?.store.flushAll().catch(() => {});
      await gw?.dispose();
    });

    test("a hit counts the key's RPM only: TPM and the budget hold are given back, and a spent budget does not refuse it", async () => {
      gw = await startTestGateway({ REDIS_URL: besides.redisUrl!, TOLLGATE_REDIS_PREFIX: `tollgate-test:${uniq()}:` });
      await waitFor(() => gw!.cache.health().ok, 5000, "the cache to connect");
      const admin = (path: string, body: unknown) => fetch(`${gw!.url}${path}`, { method: "POST", headers: gw!.adminHeaders, body: JSON.stringify(body) });
      expect((await admin("/api/v1/prices", { id: "echo/echo", input: 1000, output: 2000 })).status).toBe(201);
      expect((await admin("/api/v1/admin/tenants", { id: "hits", name: "Hits" })).status).toBe(201);
      // A budget of exactly one call: the miss spends it all.
      const content = `beside ${crypto.randomUUID()}`;
      const body = { model: "echo", temperature: 0, max_tokens: 5, messages: [{ role: "user", content }] };
      const cost = (await import("../../src/providers/tokens.ts")).countPromptTokens(body.messages as never) * 1000 + 5 * 2000;
      const created = await admin("/api/v1/admin/keys", { tenant_id: "hits", name: "k", rpm_limit: 100, tpm_limit: 100_000, budget: { amount_usd: cost / 1e6, period: "day" } });
      expect(created.status).toBe(201);
      const { key, id } = (await created.json()) as { key: string; id: string };
      const send = () => post(`${gw!.url}/v1/chat/completions`, body, { authorization: `Bearer ${key}` });

      const miss = await send();
      expect(miss.status).toBe(200);
      expect(miss.headers.get("x-tollgate-cache")).toBe("miss");
      await waitFor(async () => (await gw!.cache.get("hits", miss.headers.get("x-tollgate-cache-key")!).catch(() => null)) !== null, 5000, "the entry to be stored");
      const budgetKey = `budget:key:${id}`;
      await waitFor(async () => (await gw!.store.peekBudget(budgetKey, "day")).spentMicros === cost, 5000, "the miss to settle");
      const tpmAfterMiss = (await gw.store.peekRate(`tpm:key:${id}`, 100_000, 60_000)).remaining;

      for (let i = 0; i < 3; i++) {
        const hit = await send();
        expect(hit.status).toBe(200); // the budget is spent: a call would be refused, a hit is not
        expect(hit.headers.get("x-tollgate-cache")).toBe("hit");
        expect(hit.headers.get("x-ratelimit-remaining-requests")).toBe(String(100 - 2 - i));
      }
      const events = await gw.events();
      const hitIds = new Set(events.filter((e) => e.type === "cache.hit").map((e) => e.requestId));
      expect(hitIds.size).toBe(3);
      expect(events.filter((e) => hitIds.has(e.requestId) && (e.type === "budget.exceeded" || e.type === "budget.reserved"))).toEqual([]);
      await waitFor(async () => (await gw!.store.peekBudget(budgetKey, "day")).reservedMicros === 0, 5000, "the hits' holds to be given back");
      expect((await gw.store.peekBudget(budgetKey, "day")).spentMicros).toBe(cost);
      expect((await gw.store.peekRate(`tpm:key:${id}`, 100_000, 60_000)).remaining).toBe(tpmAfterMiss);
      expect((await gw.store.peekRate(`rpm:key:${id}`, 100, 60_000)).remaining).toBe(100 - 4);

      // A new prompt on the spent budget is a call: refused.
      const other = await post(`${gw.url}/v1/chat/completions`, { ...body, messages: [{ role: "user", content: `${content} again` }] }, { authorization: `Bearer ${key}` });
      expect(other.status).toBe(429);
      expect(((await other.json()) as { error: { code: string } }).error.code).toBe("budget_exceeded");
    }, 30_000);
  });
}

if (availableOrFail("cache: Redis down", "redis-server", REDIS_MISSING)) {
  const throwaway = throwawayRedis("cache-redis-down");
  let gw: TestGateway | undefined;
  const startRedis = () => throwaway.start();
  const stopRedis = () => throwaway.stop();
  const port = new URL(throwaway.url).port;
  afterAll(async () => {
    await gw?.dispose().catch(() => {});
    await throwaway.dispose();
  });

  describe("cache: Redis down", () => {
    test("lookups become misses without errors, /ready says the cache is degraded, caching recovers", async () => {
      await startRedis();
      gw = await startTestGateway({ REDIS_URL: `redis://127.0.0.1:${port}` });
      await waitFor(() => gw!.cache.health().ok, 5000, "the cache to connect");
      const q = `down ${crypto.randomUUID()}`;
      await storedIn(gw, await ask(gw, q));
      expect((await ask(gw, q)).headers.get("x-tollgate-cache")).toBe("hit");

      await stopRedis();
      for (let i = 0; i < 3; i++) {
        const r = await ask(gw, q);
        expect(r.status).toBe(200);
        expect(r.headers.get("x-tollgate-cache")).toBe("miss");
        expect(((await r.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe(q);
      }
      const ready = (await (await fetch(`${gw.url}/ready`, { headers: { authorization: `Bearer ${gw.adminKey}` } })).json()) as { checks: { cache: { kind: string; ok: boolean } } };
      expect(ready.checks.cache).toMatchObject({ kind: "redis", ok: false });

      await startRedis(); // empty, same port: the client reconnects by itself
      // health() turns ok once reconnected and the last failure is a few seconds old
      await waitFor(() => gw!.cache.health().ok, 20_000, "the cache to recover");
      const again = await ask(gw, q);
      expect(again.headers.get("x-tollgate-cache")).toBe("miss");
      await storedIn(gw, again);
      expect((await ask(gw, q)).headers.get("x-tollgate-cache")).toBe("hit");
      expect(((await (await fetch(`${gw.url}/ready`, { headers: { authorization: `Bearer ${gw.adminKey}` } })).json()) as { checks: { cache: { ok: boolean } } }).checks.cache.ok).toBe(true);
    }, 60_000);
  });
}
