/**
 * RedisStateStore: the shared contract against a real Redis (`REDIS_URL`, e.g. from
 * `eval "$(bash scripts/redis.sh start)"`), each store under its own random prefix, plus what
 * only Redis has: prefix isolation, and behaviour while Redis is down or hung — against a
 * dedicated redis-server this file starts and kills itself.
 *
 * Under CI=true a missing REDIS_URL (or redis-server binary) is a failing test, never a skip.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { Redis } from "ioredis";
import { periodOf } from "../../src/stores/admission.ts";
import { ADMISSION_LUA } from "../../src/stores/redis-admission.ts";
import { RedisStateStore } from "../../src/stores/redis-state-store.ts";
import type { AdmissionResult } from "../../src/stores/state-store.ts";
import { stateStoreContract, waitFor } from "./state-store.contract.ts";
import { freePort } from "../helpers/services.ts";

const REDIS_URL = process.env.REDIS_URL;
const CI = process.env.CI === "true";
const REDIS_SERVER = Bun.which("redis-server");

function testPrefix(): string {
  return `tollgate-test:${crypto.randomUUID()}:`;
}

/** Deletes everything under `prefix` through a store of its own (the tested one may be closed). */
async function flushPrefix(url: string, prefix: string): Promise<void> {
  const admin = await RedisStateStore.connect(url, { prefix });
  try {
    await admin.flushAll();
  } finally {
    await admin.close();
  }
}

/** Runs `fn` and returns how long it took to settle, in ms, and its error (if it rejected). */
async function settle(fn: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now();
  try {
    await fn();
    return { ms: performance.now() - started, error: undefined };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

// ---------------------------------------------------------------------------------------------
// Against REDIS_URL
// ---------------------------------------------------------------------------------------------

if (!REDIS_URL) {
  const message = "REDIS_URL is not set: start Redis with scripts/redis.sh start";
  if (CI) {
    test("RedisStateStore needs Redis", () => {
      throw new Error(message);
    });
  } else {
    console.warn(`[redis-state-store.test] skipped: ${message} (eval "$(bash scripts/redis.sh start)")`);
    describe.skip("RedisStateStore (REDIS_URL not set)", () => {
      test("contract", () => {});
    });
  }
} else {
  const url = REDIS_URL;

  stateStoreContract("RedisStateStore", async () => {
    const prefix = testPrefix();
    const store = await RedisStateStore.connect(url, { prefix });
    return { store, cleanup: () => flushPrefix(url, prefix) };
  });

  describe("RedisStateStore against REDIS_URL", () => {
    let raw: Redis;
    const stores: RedisStateStore[] = [];
    const rawKeys: string[] = [];

    beforeAll(() => {
      raw = new Redis(url, { maxRetriesPerRequest: 1 });
    });
    afterEach(async () => {
      for (const s of stores.splice(0)) {
        await s.flushAll().catch(() => {});
        await s.close();
      }
      if (rawKeys.length > 0) await raw.del(...rawKeys.splice(0));
    });
    afterAll(async () => {
      await raw.quit();
    });

    async function open(prefix = testPrefix()): Promise<RedisStateStore> {
      const s = await RedisStateStore.connect(url, { prefix });
      stores.push(s);
      return s;
    }

    test("hscan reads the same through either client (Bun's, with the admission client, or ioredis without it)", async () => {
      const bun = await open();
      const io = await RedisStateStore.connect(url, { prefix: bun.prefix, admissionClient: "ioredis" });
      stores.push(io);
      const writes = Array.from({ length: 1200 }, (_, i) => ({ op: "hset" as const, key: "h", field: `f${i}`, value: `v${i}é` }));
      await bun.applyWrites(writes);
      for (const s of [bun, io]) {
        const got = new Map<string, string>();
        let cursor = "0";
        let steps = 0;
        do {
          const r = await s.hscan("h", cursor, 100);
          for (const [f, v] of r.entries) got.set(f, v);
          cursor = r.cursor;
          steps++;
        } while (cursor !== "0");
        expect(steps).toBeGreaterThan(1);
        expect(got.size).toBe(1200);
        expect(got.get("f777")).toBe("v777é");
      }
    });

    test("every key is stored under the prefix", async () => {
      const store = await open();
      await store.set("k", "v");
      await store.applyVersioned("ver", 1, [{ op: "hset", key: "h", field: "f", value: "x" }]);
      const token = await store.acquireLock("lock", 10_000);
      expect(await raw.get(`${store.prefix}k`)).toBe("v");
      expect(await raw.get(`${store.prefix}ver`)).toBe("1");
      expect(await raw.hgetall(`${store.prefix}h`)).toEqual({ f: "x" });
      expect(await raw.get(`${store.prefix}lock`)).toBe(token);
      expect(await raw.get("k")).toBeNull();
    });

    test("a TTL is a real Redis PX expiry", async () => {
      const store = await open();
      await store.set("k", "v", { ttlMs: 60_000 });
      const pttl = await raw.pttl(`${store.prefix}k`);
      expect(pttl).toBeGreaterThan(50_000);
      expect(pttl).toBeLessThanOrEqual(60_000);
      await store.set("k", "v");
      expect(await raw.pttl(`${store.prefix}k`)).toBe(-1);
    });

    test("flushAll leaves keys outside the prefix alone (including ones its unescaped glob would match)", async () => {
      const id = crypto.randomUUID();
      // Glob characters in the prefix must be matched literally by SCAN.
      const store = await open(`tollgate-test:${id}:a*[b]?:`);
      const outside = [`outside:${id}`, `tollgate-test:${id}:aXX[b]Y:k`, `tollgate-test:${id}:ab?:k`, `tollgate-test:${id}:a*[b]?`];
      rawKeys.push(...outside);
      for (const k of outside) await raw.set(k, "survives");
      await store.set("mine", "1");
      await store.applyVersioned("ver", 1, [{ op: "hset", key: "h", field: "f", value: "x" }]);
      await store.flushAll();
      expect(await store.get("mine")).toBeNull();
      expect(await store.get("ver")).toBeNull();
      for (const k of outside) expect(await raw.get(k)).toBe("survives");
    });

    test("the default prefix is tollgate:", async () => {
      const store = await RedisStateStore.connect(url);
      try {
        expect(store.prefix).toBe("tollgate:");
        expect(store.kind).toBe("redis");
      } finally {
        await store.close();
      }
    });

    test("two stores on one prefix see each other's writes (instances share state)", async () => {
      const prefix = testPrefix();
      const a = await open(prefix);
      const b = await open(prefix);
      expect(await a.applyVersioned("ver", 3, [{ op: "hset", key: "h", field: "f", value: "a" }])).toBe(true);
      expect(await b.applyVersioned("ver", 3, [{ op: "hset", key: "h", field: "f", value: "b" }])).toBe(false);
      expect(await b.hget("h", "f")).toBe("a");
      const token = await a.acquireLock("lock", 10_000);
      expect(await b.acquireLock("lock", 10_000)).toBeNull();
      expect(await b.releaseLock("lock", token as string)).toBe(true);
    });

    test("applyVersioned is atomic across 5 connections racing", async () => {
      const prefix = testPrefix();
      const clients = await Promise.all(Array.from({ length: 5 }, () => open(prefix)));
      const versions = Array.from({ length: 100 }, (_, i) => i).sort(() => Math.random() - 0.5);
      const results = await Promise.all(
        versions.map((v, i) =>
          (clients[i % clients.length] as RedisStateStore).applyVersioned("ver", v, [
            { op: "del", key: "state" },
            { op: "hset", key: "state", field: "v", value: String(v) },
            { op: "hset", key: "state", field: "w", value: String(v) },
          ]),
        ),
      );
      expect(results.some(Boolean)).toBe(true);
      const first = clients[0] as RedisStateStore;
      expect(await first.get("ver")).toBe("99");
      expect(await first.hgetall("state")).toEqual({ v: "99", w: "99" });
    });

    describe("admission", () => {
      const budgetAdmit = (store: RedisStateStore, requestId: string, limitMicros: number, reserveMicros: number) =>
        store.admit({ requestId, rates: [], budgets: [{ key: "shared", limitMicros, period: "month" }], reserveMicros, reservationTtlMs: 60_000 });

      test("two connections (two gateway instances) racing: budget and RPM stay exact", async () => {
        const prefix = testPrefix();
        const a = await open(prefix);
        const b = await open(prefix);
        const X = 1_000;
        const ids = Array.from({ length: 200 }, () => crypto.randomUUID());
        const results = await Promise.all(ids.map((id, i) => budgetAdmit(i % 2 ? a : b, id, 50 * X, X)));
        expect(results.filter((r) => r.allowed)).toHaveLength(50);
        const winners = ids.filter((_, i) => results[i]?.allowed);
        const period = (await a.peekBudget("shared", "month")).period;
        const settles = await Promise.all(
          [...winners, ...winners].map((id, i) => (i % 2 ? b : a).settle({ requestId: id, budgets: [{ key: "shared", period }], actualMicros: X })),
        );
        expect(settles.filter((s) => s.settled)).toHaveLength(50);
        expect(await b.peekBudget("shared", "month")).toMatchObject({ spentMicros: 50 * X, reservedMicros: 0 });

        const rpm = { key: "rpm", limit: 30, windowMs: 60_000, cost: 1 };
        const burst: AdmissionResult[] = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            (i % 2 ? a : b).admit({ requestId: `r${i}`, rates: [rpm], budgets: [], reserveMicros: 0, reservationTtlMs: 1000 }),
          ),
        );
        expect(burst.filter((r) => r.allowed)).toHaveLength(30);
        expect((await a.peekRate("rpm", 30, 60_000)).remaining).toBe(0);
      });

      test("keys live under the prefix with TTLs: windows for up to two windows, budgets past their period", async () => {
        const store = await open();
        const r = await store.admit({
          requestId: "req-1",
          rates: [{ key: "tpm", limit: 100, windowMs: 5_000, cost: 7 }],
          budgets: [{ key: "k", limitMicros: 1000, period: "day" }],
          reserveMicros: 10,
          reservationTtlMs: 30_000,
        });
        if (!r.allowed) throw new Error("expected an admission");
        const period = r.budgets[0]?.period as string;
        const p = store.prefix;
        expect(await raw.zrange(`${p}rate:tpm`, "0", "-1")).toEqual(["1:7"]);
        expect(await raw.hgetall(`${p}ratemeta:tpm`)).toEqual({ sum: "7", seq: "1", exp: String(r.nowMs + 10_000) });
        for (const k of [`${p}rate:tpm`, `${p}ratemeta:tpm`]) {
          const ttl = await raw.pttl(k);
          expect(ttl).toBeGreaterThan(5_000);
          expect(ttl).toBeLessThanOrEqual(10_000);
        }
        // The next entry within the window leaves the expiry alone (it is still a window away).
        await store.admit({ requestId: "req-2", rates: [{ key: "tpm", limit: 100, windowMs: 5_000, cost: 3 }], budgets: [], reserveMicros: 0, reservationTtlMs: 1000 });
        expect(await raw.hgetall(`${p}ratemeta:tpm`)).toEqual({ sum: "10", seq: "2", exp: String(r.nowMs + 10_000) });
        const exp = Math.max(periodOf("day", r.nowMs).endMs, r.nowMs + 30_000) + 24 * 3600_000;
        expect(await raw.hgetall(`${p}budget:${period}:k`)).toEqual({ reserved: "10", limit: "1000", "r:req-1": "10", exp: String(exp) });
        expect(await raw.zscore(`${p}holds:${period}:k`, "req-1")).toBe(String(r.nowMs + 30_000));
        for (const k of [`${p}budget:${period}:k`, `${p}holds:${period}:k`]) {
          const expiresAt = r.nowMs + (await raw.pttl(k));
          expect(expiresAt).toBeGreaterThan(exp - 1000);
          expect(expiresAt).toBeLessThanOrEqual(exp);
        }
        await store.settle({ requestId: "req-1", budgets: [{ key: "k", period }], actualMicros: 4 });
        expect(await raw.hgetall(`${p}budget:${period}:k`)).toEqual({ reserved: "0", limit: "1000", spent: "4", exp: String(exp) });
        expect(await raw.exists(`${p}holds:${period}:k`)).toBe(0);
        const marker = await raw.pttl(`${p}settled:req-1`);
        expect(marker).toBeGreaterThan(3_500_000);
        expect(marker).toBeLessThanOrEqual(3_600_000);
      });

      test("a holds key created again after it emptied gets its expiry back", async () => {
        const store = await open();
        const hold = (id: string, ttl: number) =>
          store.admit({ requestId: id, rates: [], budgets: [{ key: "k", limitMicros: 100, period: "day" }], reserveMicros: 1, reservationTtlMs: ttl });
        const first = await hold("a", 50);
        const holds = `${store.prefix}holds:${first.budgets[0]?.period}:k`;
        await waitFor(async () => (await store.peekBudget("k", "day")).reservedMicros === 0, "the hold to expire");
        expect(await raw.exists(holds)).toBe(0);
        await hold("b", 60_000);
        expect(await raw.pttl(holds)).toBeGreaterThan(60_000);
      });

      test("an idle window vanishes by itself", async () => {
        const store = await open();
        await store.admit({ requestId: "x", rates: [{ key: "r", limit: 5, windowMs: 100, cost: 1 }], budgets: [], reserveMicros: 0, reservationTtlMs: 1000 });
        expect(await raw.exists(`${store.prefix}rate:r`, `${store.prefix}ratemeta:r`)).toBe(2);
        await waitFor(async () => (await raw.exists(`${store.prefix}rate:r`, `${store.prefix}ratemeta:r`)) === 0, "the window keys to expire");
      });

      test("a settled id is forgotten after settledRetentionMs (then a settle counts again)", async () => {
        const prefix = testPrefix();
        const store = await RedisStateStore.connect(url, { prefix, settledRetentionMs: 100 });
        stores.push(store);
        const settle = { requestId: "late", budgets: [], actualMicros: 0 };
        expect(await store.settle(settle)).toEqual({ settled: true });
        expect(await store.settle(settle)).toEqual({ settled: false });
        await waitFor(async () => (await store.settle(settle)).settled, "the settled id to be forgotten");
      });

      test("the script's UTC calendar matches periodOf (leap years, month and year ends)", async () => {
        const edges = [
          0,
          Date.UTC(2000, 1, 29, 12),
          Date.UTC(2024, 1, 29, 23, 59, 59, 999),
          Date.UTC(2024, 2, 1),
          Date.UTC(2100, 1, 28, 23, 59, 59, 999),
          Date.UTC(2100, 2, 1),
          Date.UTC(2026, 11, 31, 23, 59, 59, 999),
          Date.UTC(2027, 0, 1),
          Date.UTC(2026, 10, 22, 13, 14, 15, 16),
        ];
        const random = Array.from({ length: 300 }, () => Math.floor(Math.random() * Date.UTC(2400, 0, 1)));
        const replies = (await Promise.all(
          [...edges, ...random].map((ms) => raw.eval(ADMISSION_LUA, 0, "calendar", "p:", "0", String(ms))),
        )) as [string, number, string, number, number, number][];
        for (const [i, ms] of [...edges, ...random].entries()) {
          const day = periodOf("day", ms);
          const month = periodOf("month", ms);
          expect({ ms, reply: replies[i] }).toEqual({ ms, reply: [day.name, day.endMs, month.name, month.endMs, day.endMs, month.endMs] });
        }
      });

      test("a period name from the script is what the server clock says", async () => {
        const store = await open();
        const r = await budgetAdmit(store, "p", 10, 1);
        const [seconds, micros] = await raw.time();
        const serverNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
        expect(serverNow - r.nowMs).toBeGreaterThanOrEqual(0);
        expect(serverNow - r.nowMs).toBeLessThan(1000);
        expect(r.budgets[0]?.period).toBe(periodOf("month", r.nowMs).name);
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Against a dedicated redis-server this file starts, stops, freezes and restarts
// ---------------------------------------------------------------------------------------------

/** Whether something on `port` answers a RESP PING with PONG within `timeoutMs`. */
async function pong(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    let done = false;
    const finish = (ok: boolean, socket?: { end(): void }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket?.end();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(socket) {
          socket.write("PING\r\n");
        },
        data(socket, data) {
          finish(data.toString().startsWith("+PONG"), socket);
        },
        error() {
          finish(false);
        },
        close() {
          finish(false);
        },
        connectError() {
          finish(false);
        },
      },
    }).catch(() => finish(false));
  });
}

class DedicatedRedis {
  proc: Subprocess | undefined;
  constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.proc = Bun.spawn(
      [REDIS_SERVER as string, "--bind", "127.0.0.1", "--port", String(this.port), "--save", "", "--appendonly", "no", "--dir", this.dir, "--loglevel", "warning"],
      { stdout: "ignore", stderr: "ignore" },
    );
    await waitFor(() => pong(this.port), `redis-server on port ${this.port}`, 10_000);
  }

  /** Kill it (SIGKILL: the abrupt kind of "down") and wait until it is gone. */
  async kill(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc) return;
    proc.kill("SIGCONT");
    proc.kill("SIGKILL");
    await proc.exited;
  }

  signal(sig: "SIGSTOP" | "SIGCONT"): void {
    this.proc?.kill(sig);
  }
}

const BOUND_MS = 3000; // generous: proves "does not hang", not a latency target

if (!REDIS_SERVER) {
  const message = "redis-server is not installed: run scripts/redis.sh install";
  if (CI) {
    test("RedisStateStore outage tests need redis-server", () => {
      throw new Error(message);
    });
  } else {
    console.warn(`[redis-state-store.test] outage tests skipped: ${message}`);
    describe.skip("RedisStateStore when Redis is down (redis-server not installed)", () => {
      test("outage", () => {});
    });
  }
} else {
  describe("RedisStateStore when Redis is down", () => {
    let dir: string;
    let server: DedicatedRedis;
    const stores: RedisStateStore[] = [];

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "tollgate-redis-"));
    });
    afterEach(async () => {
      for (const s of stores.splice(0)) await s.close();
      await server?.kill();
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    async function open(url: string, opts: Parameters<typeof RedisStateStore.connect>[1] = {}): Promise<RedisStateStore> {
      const s = await RedisStateStore.connect(url, { prefix: testPrefix(), ...opts });
      stores.push(s);
      return s;
    }

    test("connect to a port with nothing listening rejects within connectTimeoutMs", async () => {
      const port = freePort();
      const { ms, error } = await settle(() => RedisStateStore.connect(`redis://127.0.0.1:${port}`, { connectTimeoutMs: 500 }));
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toContain(`127.0.0.1:${port}`);
      expect(ms).toBeLessThan(BOUND_MS);
    });

    test("connect waits for a Redis that starts a moment later", async () => {
      server = new DedicatedRedis(freePort(), dir);
      const connecting = RedisStateStore.connect(server.url, { prefix: testPrefix(), connectTimeoutMs: 8000 });
      await Bun.sleep(300);
      await server.start();
      const store = await connecting;
      stores.push(store);
      expect((await store.health()).ok).toBe(true);
    }, 20_000);

    test("calls reject quickly while Redis is down, and the same store works once it is back", async () => {
      server = new DedicatedRedis(freePort(), dir);
      await server.start();
      const store = await open(server.url);
      await store.set("k", "before");
      expect(await store.applyVersioned("ver", 1, [{ op: "hset", key: "h", field: "f", value: "1" }])).toBe(true);
      const lock = await store.acquireLock("lock", 60_000);
      expect(lock).not.toBeNull();

      await server.kill();
      const calls: [string, () => Promise<unknown>][] = [
        ["get", () => store.get("k")],
        ["set", () => store.set("k", "during")],
        ["hgetall", () => store.hgetall("h")],
        ["applyVersioned", () => store.applyVersioned("ver", 2, [])],
        ["acquireLock", () => store.acquireLock("other", 1000)],
        ["releaseLock", () => store.releaseLock("lock", lock as string)],
        ["timeMs", () => store.timeMs()],
        ["flushAll", () => store.flushAll()],
        ["admit", () => store.admit({ requestId: "r", rates: [{ key: "r", limit: 1, windowMs: 1000, cost: 1 }], budgets: [], reserveMicros: 0, reservationTtlMs: 1000 })],
        ["settle", () => store.settle({ requestId: "r", budgets: [], actualMicros: 1 })],
        ["peekBudget", () => store.peekBudget("b", "day")],
      ];
      for (const [name, call] of calls) {
        const { ms, error } = await settle(call);
        expect({ name, rejected: error instanceof Error }).toEqual({ name, rejected: true });
        expect(ms).toBeLessThan(BOUND_MS);
      }
      // Many at once fail fast too (nothing piles up in a queue).
      const burst = await settle(() => Promise.any(Array.from({ length: 100 }, (_, i) => store.get(`k${i}`))));
      expect(burst.error).toBeDefined();
      expect(burst.ms).toBeLessThan(BOUND_MS);

      const health = await store.health();
      expect(health.ok).toBe(false);
      expect(typeof health.detail).toBe("string");

      // Back (empty: no persistence, script cache gone): the same object reconnects by itself.
      await server.start();
      await waitFor(async () => (await store.health()).ok, "the store to reconnect", 10_000);
      expect(await store.get("k")).toBeNull();
      await store.set("k", "after");
      expect(await store.get("k")).toBe("after");
      // EVALSHA hits NOSCRIPT on the fresh server; the script must still run.
      expect(await store.applyVersioned("ver", 1, [{ op: "hset", key: "h", field: "f", value: "2" }])).toBe(true);
      expect(await store.hgetall("h")).toEqual({ f: "2" });
      const again = await store.acquireLock("lock", 60_000);
      expect(again).not.toBeNull();
      expect(await store.releaseLock("lock", again as string)).toBe(true);
      const admitted = await store.admit({ requestId: "r", rates: [{ key: "r", limit: 1, windowMs: 60_000, cost: 1 }], budgets: [], reserveMicros: 0, reservationTtlMs: 1000 });
      expect(admitted.allowed).toBe(true);
    }, 30_000);

    test("a hung Redis (SIGSTOP) makes calls time out instead of hanging; they work after SIGCONT", async () => {
      server = new DedicatedRedis(freePort(), dir);
      await server.start();
      const store = await open(server.url, { commandTimeoutMs: 500, healthTimeoutMs: 300 });
      await store.set("k", "v");

      server.signal("SIGSTOP");
      try {
        const { ms, error } = await settle(() => store.get("k"));
        expect(error).toBeInstanceOf(Error);
        expect(ms).toBeLessThan(BOUND_MS);
        const health = await settle(() => store.health());
        expect(health.ms).toBeLessThan(BOUND_MS);
        expect((await store.health()).ok).toBe(false);
      } finally {
        server.signal("SIGCONT");
      }
      await waitFor(async () => (await store.health()).ok, "Redis to answer again", 10_000);
      expect(await store.get("k")).toBe("v");
      expect(await store.applyVersioned("ver", 1, [])).toBe(true);
    }, 30_000);

    test("close() while Redis is down resolves promptly", async () => {
      server = new DedicatedRedis(freePort(), dir);
      await server.start();
      const store = await RedisStateStore.connect(server.url, { prefix: testPrefix() });
      await server.kill();
      const { ms, error } = await settle(() => store.close());
      expect(error).toBeUndefined();
      expect(ms).toBeLessThan(BOUND_MS);
      expect((await store.health()).ok).toBe(false);
    }, 20_000);
  });
}
