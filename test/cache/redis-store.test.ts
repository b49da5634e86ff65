/** RedisCacheStore: the contract against the real Redis (`REDIS_URL`), each run under its own prefix. */
import { describe, expect, test } from "bun:test";
import { RedisCacheStore } from "../../src/cache/redis-store.ts";
import { waitFor } from "../helpers/gateway.ts";
import { freePort, servicesOrFail, uniq } from "../helpers/services.ts";
import { cacheStoreContract } from "./store.contract.ts";

const services = servicesOrFail(["redis"], "RedisCacheStore");
if (services) {
  const url = services.redisUrl!;
  cacheStoreContract("redis", async () => {
    const store = new RedisCacheStore(url, { prefix: `tollgate-test:${uniq()}:`, timeoutMs: 1000 });
    await waitFor(() => store.health().ok, 5000, "redis to connect");
    return store;
  });

  describe("RedisCacheStore without a server", () => {
    test("a lookup against a Redis that is not there rejects at once and health says so", async () => {
      const store = new RedisCacheStore(`redis://127.0.0.1:${freePort()}`, { timeoutMs: 50 });
      const t0 = performance.now();
      const err = await store.get("t", "h").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(performance.now() - t0).toBeLessThan(1000); // fails fast rather than waiting to connect
      expect(store.health().ok).toBe(false);
      await store.close();
    });
  });
}
