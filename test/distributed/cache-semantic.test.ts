/**
 * The semantic tier on Redis: its entries live in the StateStore, so a second instance finds an
 * entry the first one stored, and an instance started later rebuilds its index from Redis.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { startFakeEmbeddings, towards } from "../fakes/embeddings-upstream.ts";
import { adminHeaders, post, startTestGateway, type TestGateway, waitFor, writeConfigFile } from "../helpers/gateway.ts";
import { servicesOrFail, uniq } from "../helpers/services.ts";
import { RedisStateStore } from "../../src/stores/redis-state-store.ts";
import { SemanticTier } from "../../src/cache/semantic-store.ts";
import { normalized } from "../../src/cache/semantic.ts";

const services = servicesOrFail(["redis"], "semantic cache on Redis");
if (services) {
  const DIMS = 8;
  const ADMIN = "semantic-redis-admin-key-0123456789";
  const fake = startFakeEmbeddings({ dims: DIMS });
  const gws: TestGateway[] = [];
  afterAll(async () => {
    await fetch(`${gws.at(-1)?.url}/v1/cache`, { method: "DELETE" }).catch(() => {});
    for (const g of gws) await g.dispose().catch(() => {});
    await fake.close();
  });

  describe("semantic cache on Redis", () => {
    test("two instances share an entry; an instance started later rebuilds its index from Redis", async () => {
      const file = await writeConfigFile(["providers:", "  - id: emb", "    kind: custom", `    base_url: ${fake.url}`, "    models: [emb-1]"]);
      const env = { REDIS_URL: services.redisUrl!, TOLLGATE_REDIS_PREFIX: `tollgate-test:${uniq()}:`, TOLLGATE_CONFIG: file };
      const start = async () => {
        const gw = await startTestGateway(env);
        gws.push(gw);
        const put = await fetch(`${gw.url}/api/v1/admin/cache`, { method: "PUT", headers: adminHeaders(), body: JSON.stringify({ semantic: { enabled: true, embeddings_model: "emb/emb-1", threshold: 0.95 } }) });
        expect(put.status).toBe(200);
        await waitFor(() => gw.snapshot.cache?.global?.semantic?.enabled, 3000, "the policy");
        return gw;
      };
      const ask = (gw: TestGateway, content: string) => post(`${gw.url}/v1/chat/completions`, { model: "echo", temperature: 0, messages: [{ role: "user", content }] });
      const [one, two] = [await start(), await start()];
      const q = `refund policy ${crypto.randomUUID()}`;
      const p1 = `getting a refund ${crypto.randomUUID()}`;
      const p2 = `refunds, how? ${crypto.randomUUID()}`;
      fake.set(`user: ${q}`, towards(DIMS, 0, 1, 1));
      fake.set(`user: ${p1}`, towards(DIMS, 0, 1, 0.97));
      fake.set(`user: ${p2}`, towards(DIMS, 0, 3, 0.96)); // closest to q, not to the attempts below
      // Instance two searches the scope first (empty: it now holds a loaded, empty index).
      const early = `unrelated ${crypto.randomUUID()}`;
      fake.set(`user: ${early}`, towards(DIMS, 2, 3, 1));
      expect((await ask(two, early)).headers.get("x-tollgate-cache")).toBe("miss");
      expect((await ask(one, q)).headers.get("x-tollgate-cache")).toBe("miss");
      await Bun.sleep(1200); // written after the response; two's index is now older than its 1 s refresh
      // Two missed that update: it reloads in the background and finds the entry within a lookup or two.
      let shared: Response | undefined;
      // Each attempt's wording leans towards another axis: similar to q (0.97), not to each other (0.94 < 0.95).
      for (const axis of [1, 4, 5, 6, 7]) {
        if (shared?.headers.get("x-tollgate-cache") === "semantic-hit") break;
        const p = `${p1} (${axis})`;
        fake.set(`user: ${p}`, towards(DIMS, 0, axis, 0.97));
        shared = await ask(two, p);
        if (shared.headers.get("x-tollgate-cache") !== "semantic-hit") await Bun.sleep(100);
      }
      expect(shared!.headers.get("x-tollgate-cache")).toBe("semantic-hit");
      expect(((await shared!.json()) as any).choices[0].message.content).toBe(q);

      await one.dispose();
      await two.dispose();
      gws.length = 0;
      const three = await start(); // a fresh process: empty index, rebuilt from Redis
      const rebuilt = await ask(three, p2);
      expect(rebuilt.headers.get("x-tollgate-cache")).toBe("semantic-hit");
      expect(((await rebuilt.json()) as any).choices[0].message.content).toBe(q);
    }, 60_000);

    test("an entry stored by one instance is found by the other within 1 s", async () => {
      const file = await writeConfigFile(["providers:", "  - id: emb", "    kind: custom", `    base_url: ${fake.url}`, "    models: [emb-1]"]);
      const env = { REDIS_URL: services.redisUrl!, TOLLGATE_REDIS_PREFIX: `tollgate-test:${uniq()}:`, TOLLGATE_CONFIG: file, TOLLGATE_ADMIN_KEY: ADMIN };
      const start = async () => {
        const gw = await startTestGateway(env);
        gws.push(gw);
        const put = await fetch(`${gw.url}/api/v1/admin/cache`, { method: "PUT", headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ semantic: { enabled: true, embeddings_model: "emb/emb-1", threshold: 0.95 } }) });
        expect(put.status).toBe(200);
        await waitFor(() => gw.snapshot.cache?.global?.semantic?.enabled, 3000, "the policy");
        return gw;
      };
      const ask = (gw: TestGateway, content: string) => post(`${gw.url}/v1/chat/completions`, { model: "echo", temperature: 0, messages: [{ role: "user", content }] });
      const [one, two] = [await start(), await start()];
      // Both have the scope open (a miss each), so two learns of one's entry only through the store.
      for (const [k, gw] of [one, two].entries()) {
        const warm = `warm-up ${crypto.randomUUID()}`;
        fake.set(`user: ${warm}`, towards(DIMS, 6 + k, 0, 1)); // orthogonal to each other and to what follows
        expect((await ask(gw, warm)).headers.get("x-tollgate-cache")).toBe("miss");
      }
      const q = `shipping times ${crypto.randomUUID()}`;
      fake.set(`user: ${q}`, towards(DIMS, 2, 3, 1));
      expect((await ask(one, q)).headers.get("x-tollgate-cache")).toBe("miss");
      const stored = Date.now(); // one stores the answer right after this response
      let found: number | undefined;
      // Each attempt leans towards its own axis: like q (0.97), not like each other (0.94 < 0.95); six of them span > 1 s.
      for (const axis of [3, 4, 5, 6, 7, 1]) {
        if (found !== undefined) break;
        const p = `how long does shipping take ${axis} ${crypto.randomUUID()}`;
        fake.set(`user: ${p}`, towards(DIMS, 2, axis, 0.97));
        const r = await ask(two, p);
        if (r.headers.get("x-tollgate-cache") === "semantic-hit") {
          found = Date.now() - stored;
          expect(((await r.json()) as any).choices[0].message.content).toBe(q);
        } else await Bun.sleep(180);
      }
      expect(found).toBeDefined();
      expect(found!).toBeLessThanOrEqual(1000);

    }, 60_000);

    test("two instances writing one scope at the same instant lose nothing (store and both indexes)", async () => {
      const prefix = `tollgate-test:${uniq()}:`;
      const stores = [await RedisStateStore.connect(services.redisUrl!, { prefix }), await RedisStateStore.connect(services.redisUrl!, { prefix })];
      const tiers = stores.map((s) => new SemanticTier(s, { refreshMs: 200 }));
      try {
        const D = 16;
        const unit = () => normalized(Array.from({ length: D }, () => Math.random() - 0.5))!;
        const expires = Date.now() + 60_000;
        for (const t of tiers) expect(await t.nearest("t1", "scope-a", unit(), 0.99)).toEqual({}); // open (empty) on both
        const N = 100;
        const vectors = Array.from({ length: 2 * N }, unit);
        // Issue 18's race: a time-based version per scope made the second writer of a millisecond lose.
        await Promise.all(vectors.map((v, i) => tiers[i % 2]!.add("t1", "scope-a", v, `entry-${i}`, expires)));
        expect(Object.keys(await stores[0]!.hgetall("semcache:scope:t1:scope-a")).length).toBe(2 * N);
        expect(await tiers[1]!.size("t1")).toBe(2 * N);
        // Each instance's index holds all of them (its own at once, the other's through the journal).
        for (const t of tiers) {
          await waitFor(async () => (await t.stats()).entries === 2 * N || undefined, 3000, "every entry in each index");
          for (const [i, v] of vectors.entries()) expect((await t.nearest("t1", "scope-a", v, 0.999)).entry).toBe(`entry-${i}`);
        }
      } finally {
        for (const t of tiers) await t.close();
        await stores[0]!.flushAll();
        for (const s of stores) await s.close();
      }
    }, 60_000);
  });
}
