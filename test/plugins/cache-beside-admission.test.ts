/**
 * Issue 30: with a Redis cache and a request that has limits, the exact-cache GET goes out in the
 * lookup phase and admission is sent while it is in flight (one round trip of waiting, not two);
 * a hit is then admitted as a hit (RPM only) and answered in the call phase.
 *
 * The stores here are the in-process ones, wrapped to report when each call starts and to hold
 * the GET's answer back: what is asserted is the order of the calls, which the Redis stores
 * share (test/distributed/cache.test.ts runs the same path on a real Redis).
 */
import { describe, expect, test } from "bun:test";
import { MemoryCacheStore } from "../../src/cache/memory-store.ts";
import type { CacheStore } from "../../src/cache/store.ts";
import { definePlugin } from "../../src/pipeline/plugin.ts";
import { Pipeline } from "../../src/pipeline/runner.ts";
import { cachePlugin } from "../../src/plugins/cache.ts";
import { limitsPlugin } from "../../src/plugins/limits.ts";
import { MemoryStateStore } from "../../src/stores/memory-state-store.ts";
import type { StateStore } from "../../src/stores/state-store.ts";
import { completion, testCtx } from "../pipeline/helpers.ts";

/** A store that looks like Redis to the cache plugin, holds each GET until `release`, and logs calls. */
function gatedCache(log: string[]) {
  const inner = new MemoryCacheStore();
  let gate: Promise<void> = Promise.resolve();
  let open = () => {};
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "kind") return "redis";
      if (prop === "get") {
        return async (tenant: string, hash: string) => {
          log.push("get:start");
          await gate;
          const v = await target.get(tenant, hash);
          log.push("get:end");
          return v;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as CacheStore;
  return {
    store,
    hold() {
      gate = new Promise((r) => (open = r));
    },
    release: () => open(),
  };
}

function loggedState(log: string[]): { state: StateStore; inner: MemoryStateStore } {
  const inner = new MemoryStateStore();
  const state = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "admit") {
        return async (req: Parameters<StateStore["admit"]>[0]) => {
          log.push(`admit:${req.rates.map((r) => r.key.split(":")[0]).join("+")}`);
          return target.admit(req);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as StateStore;
  return { state, inner };
}

const answerer = (calls: { n: number }) =>
  definePlugin({ name: "answerer", version: "1.0.0", phases: { call: () => (calls.n++, { kind: "response", response: completion("fresh") }) } });

function request(id: string) {
  const { ctx, events } = testCtx({ temperature: 0, messages: [{ role: "user", content: "beside admission" }] });
  (ctx as { requestId: string }).requestId = id;
  ctx.state["auth.key"] = { id: "k1", rpm_limit: 10, tpm_limit: 100_000 };
  return { ctx, events };
}

describe("the exact lookup beside admission", () => {
  test("a miss: admission is sent while the GET is still out; the provider is called once", async () => {
    const log: string[] = [];
    const cache = gatedCache(log);
    const { state } = loggedState(log);
    const calls = { n: 0 };
    const p = new Pipeline([cachePlugin({ store: cache.store, state, besideAdmission: true }), limitsPlugin(state), answerer(calls)]);
    cache.hold();
    const { ctx } = request("r1");
    const run = p.run(ctx);
    for (let i = 0; i < 50 && !log.includes("admit:rpm+tpm"); i++) await Bun.sleep(1);
    expect(log).toEqual(["get:start", "admit:rpm+tpm"]); // both out, neither waited for the other
    cache.release();
    const result = await run;
    expect(result.kind).toBe("response");
    expect(result.cached).toBe(false);
    expect(calls.n).toBe(1);
    expect(ctx.responseHeaders["x-tollgate-cache"]).toBe("miss");
  });

  test("a hit: admitted as a hit (the TPM taken beside the GET is given back), answered from the cache, no provider call", async () => {
    const log: string[] = [];
    const cache = gatedCache(log);
    const { state, inner } = loggedState(log);
    const calls = { n: 0 };
    const p = new Pipeline([cachePlugin({ store: cache.store, state, besideAdmission: true }), limitsPlugin(state), answerer(calls)]);
    const { ctx: firstCtx } = request("first");
    await p.run(firstCtx);
    await Promise.all(firstCtx.after ?? []);
    for (let i = 0; i < 100 && (await cache.store.usage()).entries === 0; i++) await Bun.sleep(2); // stored after the answer
    const tpmAfterCall = (await inner.peekRate("tpm:key:k1", 100_000, 60_000)).remaining;
    log.length = 0;
    const { ctx, events } = request("second");
    cache.hold();
    const run = p.run(ctx);
    for (let i = 0; i < 50 && !log.includes("admit:rpm+tpm"); i++) await Bun.sleep(1);
    cache.release();
    const result = await run;
    await Promise.all(ctx.after ?? []);
    expect(result.cached).toBe(true);
    expect(calls.n).toBe(1);
    expect(ctx.responseHeaders["x-tollgate-cache"]).toBe("hit");
    expect(log).toEqual(["get:start", "admit:rpm+tpm", "get:end"]);
    expect(events.map((e) => e.type)).toContain("cache.hit");
    expect((await inner.peekRate("rpm:key:k1", 10, 60_000)).remaining).toBe(8); // the call and the hit
    expect((await inner.peekRate("tpm:key:k1", 100_000, 60_000)).remaining).toBe(tpmAfterCall); // nothing kept by the hit
  });
});
