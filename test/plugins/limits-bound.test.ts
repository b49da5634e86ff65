/**
 * The limits plugin reserves from the cheap prompt bound (issue 30) and keeps both promises
 * exact, on the memory store and on a real Redis (`REDIS_URL`; under CI=true a missing Redis
 * fails):
 * - never exceeded: concurrent requests against a budget and a TPM limit;
 * - the full amount is reachable: a request that fits only by its exact count is admitted
 *   (second admission on that path only), and settle corrects the TPM entry to the reported
 *   prompt tokens, so the window never keeps the bound's slack.
 *
 * The plugin runs directly (route, then onEnd) around a simulated provider call that reports
 * the exact o200k prompt count and `max_tokens` completion tokens, like the echo provider.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { ChatMessage } from "../../src/canonical/chat.ts";
import type { Ctx, Outcome } from "../../src/pipeline/context.ts";
import { priceCall, setCostNanos } from "../../src/pipeline/cost.ts";
import { GatewayError } from "../../src/pipeline/errors.ts";
import { promptTokenBound, promptTokensExact } from "../../src/pipeline/prompt-bound.ts";
import { limitsPlugin, type LimitHolder } from "../../src/plugins/limits.ts";
import { countPromptTokens } from "../../src/providers/tokens.ts";
import type { ProviderAdapter } from "../../src/providers/types.ts";
import { MemoryStateStore } from "../../src/stores/memory-state-store.ts";
import { RedisStateStore } from "../../src/stores/redis-state-store.ts";
import type { StateStore } from "../../src/stores/state-store.ts";
import { availableOrFail } from "../helpers/services.ts";
import { testCtx } from "../pipeline/helpers.ts";

// 1,000 and 2,000 micro-USD per token (USD per 1M tokens).
const PRICE = { input: 1000, output: 2000 };
const ECHO = { id: "echo", kind: "echo" } as unknown as ProviderAdapter;
const MAX = 5;
const PROMPT = "one two three four five six seven eight nine ten eleven twelve";
const messages: ChatMessage[] = [{ role: "user", content: PROMPT }];
const EXACT = countPromptTokens(messages);
const COST = EXACT * PRICE.input + MAX * PRICE.output; // micro-USD, what each call really costs

let seq = 0;
function ctxFor(holder: LimitHolder, over: Record<string, unknown> = {}): Ctx {
  const { ctx: base } = testCtx({ messages, max_tokens: MAX, ...over });
  const ctx: Ctx = { ...base, requestId: `bound-${++seq}-${crypto.randomUUID()}`, config: { ...base.config, prices: { "echo/echo": PRICE } } };
  ctx.target = { provider: ECHO, model: "echo", requested: "echo" };
  ctx.state["auth.key"] = holder;
  return ctx;
}

type Run = { status: 200 | 429; ctx: Ctx; code?: string };

/** One request through the plugin: admission, a provider call of `callMs`, settle. */
async function run(plugin: ReturnType<typeof limitsPlugin>, ctx: Ctx, callMs = 0): Promise<Run> {
  try {
    await plugin.phases.route!(ctx);
  } catch (err) {
    if (err instanceof GatewayError && err.status === 429) return { status: 429, ctx, code: err.code };
    throw err;
  }
  if (callMs) await Bun.sleep(callMs);
  const completion = ctx.request.max_tokens ?? 16;
  const usage = { prompt_tokens: countPromptTokens(ctx.request.messages), completion_tokens: completion, total_tokens: 0 };
  setCostNanos(ctx, priceCall(ctx.config, "echo", "echo", usage).costNanos);
  const outcome: Outcome = { status: "ok", httpStatus: 200, usage, latencyMs: callMs };
  await plugin.phases.onEnd!(ctx, outcome);
  await Promise.all(ctx.after ?? []); // the settle runs beside the answer
  return { status: 200, ctx };
}

const reservedEvent = (ctx: Ctx, events: Array<{ type: string; payload: Record<string, unknown> }>) => events.find((e) => e.type === "budget.reserved")?.payload;

function promises(name: string, open: () => Promise<StateStore>) {
  describe(name, () => {
    let store: StateStore;
    const stores: StateStore[] = [];
    const fresh = async () => {
      store = await open();
      stores.push(store);
      return store;
    };
    afterAll(async () => {
      for (const s of stores) {
        await s.flushAll().catch(() => {});
        await (s as { close?: () => Promise<void> }).close?.();
      }
    });

    test("the bound is at least the exact count, and the test prompt's bound is well above it", () => {
      const ctx = ctxFor({ id: "x" });
      expect(promptTokenBound(ctx)).toBeGreaterThan(promptTokensExact(ctx));
      expect(promptTokensExact(ctx)).toBe(EXACT);
    });

    test("reachable: a budget of exactly one call's cost serves that call (exact fallback), then refuses the next", async () => {
      const plugin = limitsPlugin(await fresh());
      const key = { id: `k${seq}`, budget: { amount_usd: COST / 1e6, period: "day" as const } };
      const events: Array<{ type: string; payload: Record<string, unknown> }> = [];
      const ctx = ctxFor(key);
      ctx.emit = (e) => events.push(e as never);
      expect((await run(plugin, ctx)).status).toBe(200);
      expect(reservedEvent(ctx, events)?.reserveMicros).toBe(COST); // reserved by the exact count
      const next = await run(plugin, ctxFor(key));
      expect(next).toMatchObject({ status: 429, code: "budget_exceeded" });
      const b = await store.peekBudget(`budget:key:${key.id}`, "day");
      expect(b).toMatchObject({ spentMicros: COST, reservedMicros: 0, limitMicros: COST });
    });

    test("reachable: a TPM limit of exactly one call's tokens admits it; settle leaves the exact figure in the window, not the bound", async () => {
      const plugin = limitsPlugin(await fresh());
      const key = { id: `t${seq}`, tpm_limit: EXACT + MAX };
      const ctx = ctxFor(key);
      expect((await run(plugin, ctx)).status).toBe(200);
      // Admission took EXACT + MAX (the exact fallback); settle added the MAX completion tokens.
      expect((await store.peekRate(`tpm:key:${key.id}`, 1_000_000, 60_000)).remaining).toBe(1_000_000 - (EXACT + MAX + MAX));

      // With room for the bound, the bound is taken at admission and corrected at settle.
      const roomy = { id: `t2${seq}`, tpm_limit: 1_000_000 };
      const c2 = ctxFor(roomy);
      await plugin.phases.route!(c2);
      const bound = promptTokenBound(c2);
      expect((await store.peekRate(`tpm:key:${roomy.id}`, 1_000_000, 60_000)).remaining).toBe(1_000_000 - (bound + MAX));
      const usage = { prompt_tokens: EXACT, completion_tokens: MAX, total_tokens: EXACT + MAX };
      await plugin.phases.onEnd!(c2, { status: "ok", httpStatus: 200, usage, latencyMs: 0 });
      await Promise.all(c2.after ?? []);
      expect((await store.peekRate(`tpm:key:${roomy.id}`, 1_000_000, 60_000)).remaining).toBe(1_000_000 - (EXACT + MAX + MAX));
    });

    test("never exceeded, and exact: 80 concurrent calls (20 ms each) against a budget that fits 25 → exactly 25, spend = 25 calls", async () => {
      const plugin = limitsPlugin(await fresh());
      const key = { id: `c${seq}`, budget: { amount_usd: (25 * COST) / 1e6, period: "day" as const } };
      const results = await Promise.all(Array.from({ length: 80 }, () => run(plugin, ctxFor(key), 20)));
      expect(results.filter((r) => r.status === 200)).toHaveLength(25);
      for (const r of results) if (r.status === 429) expect(r.code).toBe("budget_exceeded");
      const b = await store.peekBudget(`budget:key:${key.id}`, "day");
      expect(b).toMatchObject({ spentMicros: 25 * COST, reservedMicros: 0 });
    });

    test("never exceeded: 60 concurrent uncapped calls (flexible reservation, output capped) on a small budget", async () => {
      const plugin = limitsPlugin(await fresh());
      const limit = 10 * COST;
      const key = { id: `u${seq}`, budget: { amount_usd: limit / 1e6, period: "day" as const } };
      const results = await Promise.all(Array.from({ length: 60 }, () => run(plugin, ctxFor(key, { max_tokens: undefined }), 10)));
      expect(results.filter((r) => r.status === 200).length).toBeGreaterThan(0);
      for (const r of results) if (r.status === 200 && r.ctx.state["limits.capped_max_tokens"] !== undefined) expect(r.ctx.request.max_tokens).toBeGreaterThan(0);
      const b = await store.peekBudget(`budget:key:${key.id}`, "day");
      expect(b.reservedMicros).toBe(0);
      expect(b.spentMicros).toBeGreaterThan(0);
      expect(b.spentMicros).toBeLessThanOrEqual(limit);
    });

    test("never exceeded: 60 concurrent calls against a TPM limit; what was admitted fits it", async () => {
      const plugin = limitsPlugin(await fresh());
      const limit = 12 * (EXACT + MAX);
      const key = { id: `m${seq}`, tpm_limit: limit };
      const results = await Promise.all(Array.from({ length: 60 }, () => run(plugin, ctxFor(key), 10)));
      const ok = results.filter((r) => r.status === 200).length;
      expect(ok).toBeGreaterThan(0);
      expect(ok * (EXACT + MAX)).toBeLessThanOrEqual(limit);
      for (const r of results) if (r.status === 429) expect(r.code).toBe("rate_limit_exceeded");
    });
  });
}

promises("memory store", async () => new MemoryStateStore());

const REDIS_URL = process.env.REDIS_URL;
if (availableOrFail("limits bound on Redis", "Redis", REDIS_URL ? undefined : "REDIS_URL not set: start it with scripts/redis.sh start")) {
  promises("Redis store", () => RedisStateStore.connect(REDIS_URL!, { prefix: `tollgate-test:${crypto.randomUUID()}:` }));
}

describe("pure parts", () => {
  test("tpmSettlement: correction at the admission's time to the reported prompt (down or up), completion now; no reported prompt keeps the bound", async () => {
    const { tpmSettlement } = await import("../../src/plugins/limits.ts");
    const held = { budgets: [], tpm: [{ key: "tpm:key:k", windowMs: 60_000 }], at: 1234, promptTokens: 100 };
    expect(tpmSettlement(held, { prompt_tokens: 30, completion_tokens: 7 })).toEqual([
      { key: "tpm:key:k", windowMs: 60_000, cost: -70, at: 1234 },
      { key: "tpm:key:k", windowMs: 60_000, cost: 7 },
    ]);
    // A provider that bills more prompt than the bound saw (e.g. system tokens of its own): added, at the same time.
    expect(tpmSettlement(held, { prompt_tokens: 130, completion_tokens: 0 })).toEqual([{ key: "tpm:key:k", windowMs: 60_000, cost: 30, at: 1234 }]);
    expect(tpmSettlement(held, { prompt_tokens: 0, completion_tokens: 0 })).toEqual([]);
  });

  test("mayFitWithFewerTokens: budgets and TPM yes, RPM no", async () => {
    const { mayFitWithFewerTokens } = await import("../../src/plugins/limits.ts");
    expect(mayFitWithFewerTokens({ kind: "budget", key: "budget:key:k" })).toBe(true);
    expect(mayFitWithFewerTokens({ kind: "rate", key: "tpm:tenant:t" })).toBe(true);
    expect(mayFitWithFewerTokens({ kind: "rate", key: "rpm:key:k" })).toBe(false);
  });

  test("blockedByHolds: only when the settled spend leaves room and holds are in flight", async () => {
    const { blockedByHolds } = await import("../../src/plugins/budget-reserve.ts");
    const plan = { reserveMicros: 100, promptTokens: 10, outputTokens: 5, rates: { input: 1, output: 18 }, explicit: true };
    const denied = (spent: number, reserved: number) => ({ allowed: false as const, nowMs: 0, denied: { kind: "budget" as const, key: "b", retryAfterMs: 1 }, rates: [], budgets: [{ key: "b", period: "day:2026-12-06", limitMicros: 1000, spentMicros: spent, reservedMicros: reserved, crossedThreshold: false }] });
    expect(blockedByHolds(plan, denied(850, 100))).toBe(true);
    expect(blockedByHolds(plan, denied(950, 100))).toBe(false); // the spend alone leaves no room
    expect(blockedByHolds(plan, denied(850, 0))).toBe(false); // nothing in flight to wait for
  });
});

describe("settle beside the answer", () => {
  test("onEnd returns before the store's settle lands (ctx.after holds it); the spend is settled once it does", async () => {
    const inner = new MemoryStateStore();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let landed = false;
    const slow = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === "settle") return async (req: Parameters<StateStore["settle"]>[0]) => {
          await gate;
          const out = await target.settle(req);
          landed = true;
          return out;
        };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === "function" ? v.bind(target) : v;
      },
    }) as StateStore;
    const plugin = limitsPlugin(slow);
    const key = { id: `slow-${crypto.randomUUID()}`, budget: { amount_usd: 1, period: "day" as const } };
    const ctx = ctxFor(key);
    await plugin.phases.route!(ctx);
    const usage = { prompt_tokens: EXACT, completion_tokens: MAX, total_tokens: EXACT + MAX };
    setCostNanos(ctx, priceCall(ctx.config, "echo", "echo", usage).costNanos);
    await plugin.phases.onEnd!(ctx, { status: "ok", httpStatus: 200, usage, latencyMs: 0 });
    expect(landed).toBe(false);
    expect(ctx.after).toHaveLength(1);
    expect((await inner.peekBudget(`budget:key:${key.id}`, "day")).spentMicros).toBe(0);
    release();
    await Promise.all(ctx.after!);
    expect(landed).toBe(true);
    const b = await inner.peekBudget(`budget:key:${key.id}`, "day");
    expect(b.spentMicros).toBe(COST);
    expect(b.reservedMicros).toBe(0);
    await inner.close();
  });
});
