/**
 * limits: rate limits (requests and tokens per minute, per key and per tenant) and budgets
 * (USD per day or month, per key and per tenant), in ONE atomic StateStore call per request
 * (a Lua script on Redis). The most the request can cost is reserved before the call and
 * settled to the actual cost at the end (also on errors and disconnects), beside the answer rather
 * than before it; an unsettled hold expires on its own, and its spend is settled again from the
 * log at the next start (src/projections/counters.ts).
 *
 * It runs at the end of the `route` phase, once the targets are known, so the reservation
 * uses their prices. Rate limits fail open and budgets fail closed when the store is down
 * (both configurable), each with an event.
 */
import type { Ctx } from "../pipeline/context.ts";
import { GatewayError } from "../pipeline/errors.ts";
import { definePlugin } from "../pipeline/plugin.ts";
import { promptTokenBound, promptTokensExact } from "../pipeline/prompt-bound.ts";
import { costNanosOf } from "../pipeline/cost.ts";
import { microsFromNanos } from "../pricing/money.ts";
import { maxRates, priceFor } from "../pricing/price.ts";
import { blockedByHolds, budgetDeniedMessage, cappedOutputTokens, planReserve } from "./budget-reserve.ts";
import type { AdmissionResult, BudgetSpec, RateLimitSpec, SettleRequest, StateStore } from "../stores/state-store.ts";
import { pendingHit } from "./cache-pending.ts";

/** Limits of a key or a tenant, as the auth plugin puts them in `ctx.state`. */
export interface LimitHolder {
  id: string;
  rpm_limit?: number;
  tpm_limit?: number;
  budget?: { amount_usd: number; period: "day" | "month" };
}

export interface LimitsOptions {
  /** Admit requests when the store is unreachable (rate limits only; default true). */
  rateLimitsFailOpen?: boolean;
  /** Refuse requests that have a budget when the store is unreachable (default true). */
  budgetsFailClosed?: boolean;
  /** Output tokens assumed for the reservation when the request sets no max_tokens and the catalog does not know the model's context window (default 4096). */
  defaultMaxTokens?: number;
  /** How long an unsettled reservation holds budget (default 10 min). */
  reservationTtlMs?: number;
  /**
   * Near an exhausted budget: how long a request that fits the settled spend but not the holds
   * of requests in flight waits for them to settle before its 429 (default 2000 ms; 0: never).
   */
  settleWaitMs?: number;
}

const SETTLE_POLL_MS = 10;

const MINUTE = 60_000;
const THRESHOLD_PCT = 80;

/** Pure: the rate and budget specs for a request from its key and tenant. */
export function admissionSpecs(
  key: LimitHolder | undefined,
  tenant: LimitHolder | undefined,
  estimatedTokens: number,
  provider?: LimitHolder,
): { rates: RateLimitSpec[]; budgets: BudgetSpec[] } {
  const rates: RateLimitSpec[] = [];
  const budgets: BudgetSpec[] = [];
  for (const [scope, h] of [["key", key], ["tenant", tenant], ["provider", provider]] as const) {
    if (!h) continue;
    if (h.rpm_limit) rates.push({ key: `rpm:${scope}:${h.id}`, limit: h.rpm_limit, windowMs: MINUTE, cost: 1 });
    if (h.tpm_limit) rates.push({ key: `tpm:${scope}:${h.id}`, limit: h.tpm_limit, windowMs: MINUTE, cost: Math.max(1, estimatedTokens) });
    if (h.budget) budgets.push({ key: `budget:${scope}:${h.id}`, limitMicros: Math.round(h.budget.amount_usd * 1e6), period: h.budget.period, thresholdPct: THRESHOLD_PCT });
  }
  return { rates, budgets };
}

/** Pure: the most a request can cost in micro-USD: prompt + max output tokens at the dearest target's price. */
export function maxCostMicros(ctx: Ctx, promptTokens: number, maxTokens: number): number {
  const targets = ctx.targets ?? (ctx.target ? [ctx.target] : []);
  let most = 0;
  for (const t of targets) {
    const p = priceFor(ctx.config, t.provider.id, t.model);
    if (p) {
      const r = maxRates(p);
      most = Math.max(most, promptTokens * r.input + maxTokens * r.output);
    }
  }
  return Math.ceil(most);
}

interface Held {
  budgets: Array<{ key: string; period: string }>;
  tpm: Array<{ key: string; windowMs: number }>;
  /** Store time of the admission (its TPM entries are at this time). */
  at: number;
  /** Prompt tokens the TPM entries took: the cheap bound, or the exact count on the fallback path. */
  promptTokens: number;
}

/** Pure: may a denial go away with a smaller prompt figure? Token limits and budgets: yes; RPM: no. */
export function mayFitWithFewerTokens(denied: { kind: "rate" | "budget"; key: string }): boolean {
  return denied.kind === "budget" || denied.key.startsWith("tpm:");
}

/**
 * Pure: the TPM units a request's settle adds. The completion tokens now (as before), and, when
 * the provider reported its prompt tokens, the admission's prompt estimate corrected to them at
 * the admission's own time (the correction leaves the window with that entry). Without a
 * reported figure (a failed call) the estimate stands: conservative.
 */
export function tpmSettlement(held: Held, usage: { prompt_tokens: number; completion_tokens: number }): Array<{ key: string; windowMs: number; cost: number; at?: number }> {
  const out: Array<{ key: string; windowMs: number; cost: number; at?: number }> = [];
  const correction = usage.prompt_tokens > 0 ? usage.prompt_tokens - held.promptTokens : 0;
  for (const r of held.tpm) {
    if (correction !== 0) out.push({ ...r, cost: correction, at: held.at });
    if (usage.completion_tokens > 0) out.push({ ...r, cost: usage.completion_tokens });
  }
  return out;
}

/**
 * @example
 * new Pipeline([routingPlugin(router), limitsPlugin(store), providerCallPlugin(router)])
 */
export function limitsPlugin(store: StateStore, opts: LimitsOptions = {}) {
  const failOpen = opts.rateLimitsFailOpen ?? true;
  const failClosed = opts.budgetsFailClosed ?? true;
  const settleWaitMs = opts.settleWaitMs ?? 2000;
  return definePlugin({
    name: "limits",
    version: "1.0.0",
    enforce: "post",
    phases: {
      async route(ctx) {
        const key = ctx.state["auth.key"] as LimitHolder | undefined;
        const tenant = ctx.state["auth.tenant"] as LimitHolder | undefined;
        const provider = providerLimits(ctx);
        if (!key && !tenant && !provider) return;
        const defaultMax = opts.defaultMaxTokens ?? 4096;
        const maxTokens = ctx.request.max_completion_tokens ?? ctx.request.max_tokens ?? defaultMax;
        // Reserve from the cheap bound (no tokenizer); `exact` re-plans from the exact count.
        const attempt = async (promptTokens: number, exact: boolean) => {
          const specs = admissionSpecs(key, tenant, promptTokens + (ctx.operation === "chat" ? maxTokens : 0), provider);
          const plan = specs.budgets.length ? planReserve(ctx, promptTokens, defaultMax, exact ? promptTokens : 0) : undefined;
          if (specs.rates.length === 0 && specs.budgets.length === 0) return undefined;
          const result = await store.admit({
            requestId: ctx.requestId,
            rates: specs.rates,
            budgets: specs.budgets,
            reserveMicros: plan?.reserveMicros ?? 0,
            ...(plan?.minReserveMicros !== undefined ? { minReserveMicros: plan.minReserveMicros } : {}),
            reservationTtlMs: opts.reservationTtlMs ?? 600_000,
          });
          return { ...specs, plan, result, promptTokens };
        };
        let admitted: NonNullable<Awaited<ReturnType<typeof attempt>>>;
        try {
          const first = await attempt(promptTokenBound(ctx), false);
          if (!first) return;
          // The exact-cache GET went out beside this admission (cache-pending.ts): a hit is admitted as a hit.
          const pending = pendingHit(ctx);
          if (pending && (await pending)) return await admitAsHit(ctx, store, first);
          admitted = first;
          // The bound did not fit a token-sized check: the exact count might (the rare near-limit
          // case, and the only one with a second admission call). A denial recorded nothing.
          if (!first.result.allowed && mayFitWithFewerTokens(first.result.denied)) {
            const exact = promptTokensExact(ctx);
            if (exact < first.promptTokens) admitted = (await attempt(exact, true))!;
            // Refused only because of requests in flight, whose holds may be bound-sized and
            // settle lower: wait for them (near an exhausted budget only), so the full amount stays reachable.
            const deadline = Date.now() + settleWaitMs;
            while (!admitted.result.allowed && admitted.plan && blockedByHolds(admitted.plan, admitted.result) && Date.now() < deadline && !ctx.signal.aborted) {
              await Bun.sleep(SETTLE_POLL_MS);
              admitted = (await attempt(exact, true))!;
            }
          }
        } catch (err) {
          const detail = (err as Error).message;
          // A hit takes only RPM, which fails open: the store being down does not refuse it.
          const pending = pendingHit(ctx);
          if (pending && (await pending)) {
            ctx.emit({ type: "ratelimit.failed_open", payload: { detail } });
            return;
          }
          if (admissionSpecs(key, tenant, 1, provider).budgets.length && failClosed) {
            ctx.emit({ type: "budget.unavailable", payload: { detail } });
            throw new GatewayError({ status: 503, code: "budget_unavailable", message: "Budgets cannot be checked right now (state store unreachable); retry shortly", headers: { "retry-after": "1" } });
          }
          if (!failOpen) throw new GatewayError({ status: 503, code: "ratelimit_unavailable", message: "Rate limits cannot be checked right now; retry shortly", headers: { "retry-after": "1" } });
          ctx.emit({ type: "ratelimit.failed_open", payload: { detail } });
          return;
        }
        const { rates, budgets, plan, result, promptTokens } = admitted;
        const reserveMicros = plan?.reserveMicros ?? 0;
        setHeaders(ctx, result);
        if (!result.allowed) {
          const { kind, key: which, retryAfterMs } = result.denied;
          const retry = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
          if (kind === "budget") {
            const state = result.budgets.find((b) => b.key === which);
            const remainingMicros = state ? Math.max(0, state.limitMicros - state.spentMicros - state.reservedMicros) : undefined;
            ctx.emit({ type: "budget.exceeded", payload: { budget: which, reserveMicros: plan?.minReserveMicros ?? reserveMicros, ...(remainingMicros !== undefined ? { remainingMicros } : {}) } });
            const period = budgets.find((b) => b.key === which)?.period;
            throw new GatewayError({ status: 429, code: "budget_exceeded", message: budgetDeniedMessage(plan!, state, which, period), param: "max_tokens", headers: { "retry-after": retry } });
          }
          ctx.emit({ type: "ratelimit.exceeded", payload: { limit: which, retryAfterMs } });
          throw new GatewayError({ status: 429, code: "rate_limit_exceeded", message: `Rate limit ${which} reached; retry in ${retry} s`, headers: { "retry-after": retry } });
        }
        const held: Held = {
          budgets: result.budgets.map((b) => ({ key: b.key, period: b.period })),
          tpm: rates.filter((r) => r.key.startsWith("tpm:")).map((r) => ({ key: r.key, windowMs: r.windowMs })),
          at: result.nowMs,
          promptTokens,
        };
        ctx.state["limits.held"] = held;
        // Reserved less than the worst case (a flexible reservation): cap the output to what it
        // covers, counting the prompt exactly (a reservation this tight is rare: tokenize only then).
        const capped = plan && plan.minReserveMicros !== undefined && result.reservedMicros < plan.reserveMicros ? cappedOutputTokens(plan, result.reservedMicros, promptTokensExact(ctx)) : undefined;
        if (capped !== undefined) {
          ctx.request.max_tokens = capped;
          ctx.state["limits.capped_max_tokens"] = capped; // the cache does not store a capped answer
          ctx.responseHeaders["x-tollgate-max-tokens"] = String(capped);
        }
        if (budgets.length) ctx.emit({ type: "budget.reserved", payload: { reserveMicros: result.reservedMicros, ...(capped !== undefined ? { cappedMaxTokens: capped } : {}), budgets: result.budgets.map((b) => ({ key: b.key, period: b.period, spentMicros: b.spentMicros, reservedMicros: b.reservedMicros, limitMicros: b.limitMicros })) } });
        emitCrossings(ctx, result);
      },
      async onEnd(ctx, outcome) {
        if (ctx.target && !ctx.answer?.cached && !ctx.state["price.source"] && !priceFor(ctx.config, ctx.target.provider.id, ctx.target.model) && ctx.target.provider.kind !== "echo") {
          ctx.emit({ type: "price.missing", payload: { provider: ctx.target.provider.id, model: ctx.target.model } });
        }
        const held = ctx.state["limits.held"] as Held | undefined;
        if (!held) return;
        settleBeside(ctx, store, {
          requestId: ctx.requestId,
          budgets: held.budgets,
          actualMicros: microsFromNanos(costNanosOf(ctx)),
          ...(held.tpm.length ? { rates: tpmSettlement(held, outcome.usage) } : {}),
        });
      },
    },
  });
}

/** RPM windows a cache hit counts (the key's and the tenant's); it takes no tokens, budget or provider quota. */
const HIT_RATES = ["rpm:key:", "rpm:tenant:"];
const hitRate = (key: string) => HIT_RATES.some((p) => key.startsWith(p));

/**
 * A hit whose admission went out as for a call (beside the exact-cache GET): admitted, it gives
 * back what a hit does not take (budget hold, TPM, provider RPM) after the answer; refused, it
 * is admitted again for the key's and tenant's RPM only, as a hit found before routing is.
 */
async function admitAsHit(ctx: Ctx, store: StateStore, admitted: { rates: RateLimitSpec[]; result: AdmissionResult }): Promise<void> {
  const { rates, result } = admitted;
  if (!result.allowed) return admitHit(ctx, store);
  setHeaders(ctx, result);
  // The hold did cross a threshold (the store remembers it): say so, as the call path would.
  emitCrossings(ctx, result);
  const giveBack = rates.filter((r) => !hitRate(r.key)).map((r) => ({ key: r.key, windowMs: r.windowMs, cost: -r.cost, at: result.nowMs }));
  if (!giveBack.length && !result.budgets.length) return;
  settleBeside(ctx, store, { requestId: ctx.requestId, budgets: result.budgets.map((b) => ({ key: b.key, period: b.period })), actualMicros: 0, ...(giveBack.length ? { rates: giveBack } : {}) });
}

/**
 * Settle without holding the answer: the answer waits for request.completed to be in the log, not
 * for this round trip (concurrent settles share the client's pipeline). A stop waits for it
 * (ctx.after); a crash before it landed is repaired from the log at the next start (replaySettles).
 */
function settleBeside(ctx: Ctx, store: StateStore, req: SettleRequest): void {
  const settling = store.settle(req).catch((err) => {
    // The reservation expires on its own; the spend is still in request.completed.
    ctx.emit({ type: "budget.settle_failed", payload: { detail: (err as Error).message } });
  });
  (ctx.after ??= []).push(settling);
}

function emitCrossings(ctx: Ctx, result: AdmissionResult): void {
  for (const b of result.budgets) {
    if (b.crossedThreshold) ctx.emit({ type: "budget.threshold_crossed", payload: { budget: b.key, period: b.period, thresholdPct: THRESHOLD_PCT, spentMicros: b.spentMicros, reservedMicros: b.reservedMicros, limitMicros: b.limitMicros } });
  }
}

/**
 * A cache hit still takes one request from the key's and the tenant's RPM windows (nobody exceeds
 * their request rate through the cache); it takes no tokens (TPM) and reserves no budget.
 * Fails open like the limits plugin when the state store is unreachable.
 */
export async function admitHit(ctx: Ctx, state: StateStore | undefined): Promise<void> {
  if (!state) return;
  const { rates } = admissionSpecs(ctx.state["auth.key"] as LimitHolder | undefined, ctx.state["auth.tenant"] as LimitHolder | undefined, 0);
  const rpm = rates.filter((r) => hitRate(r.key));
  if (!rpm.length) return;
  let result;
  try {
    result = await state.admit({ requestId: ctx.requestId, rates: rpm, budgets: [], reserveMicros: 0, reservationTtlMs: 60_000 });
  } catch (err) {
    ctx.emit({ type: "ratelimit.failed_open", payload: { detail: (err as Error).message } });
    return;
  }
  setHeaders(ctx, result);
  if (!result.allowed) {
    const { key, retryAfterMs } = result.denied;
    const retry = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
    ctx.emit({ type: "ratelimit.exceeded", payload: { limit: key, retryAfterMs } });
    throw new GatewayError({ status: 429, code: "rate_limit_exceeded", message: `Rate limit ${key} reached; retry in ${retry} s`, headers: { "retry-after": retry } });
  }
}

/** The first target's provider quota (fallbacks are not counted: they run only when it fails). */
function providerLimits(ctx: Ctx): LimitHolder | undefined {
  const id = ctx.target?.provider.id;
  const cfg = id ? ctx.config.providers.find((p) => p.id === id) : undefined;
  if (!cfg || (!cfg.rpmLimit && !cfg.tpmLimit)) return undefined;
  return { id: cfg.id, ...(cfg.rpmLimit ? { rpm_limit: cfg.rpmLimit } : {}), ...(cfg.tpmLimit ? { tpm_limit: cfg.tpmLimit } : {}) };
}

/** `x-ratelimit-limit-*`, `-remaining-*`, `-reset-*` for the tightest request and token limits. */
export function setHeaders(ctx: Ctx, result: AdmissionResult): void {
  for (const [prefix, label] of [["rpm:", "requests"], ["tpm:", "tokens"]] as const) {
    const states = result.rates.filter((r) => r.key.startsWith(prefix));
    if (!states.length) continue;
    const tightest = states.reduce((a, b) => (b.remaining < a.remaining ? b : a));
    ctx.responseHeaders[`x-ratelimit-limit-${label}`] = String(tightest.limit);
    ctx.responseHeaders[`x-ratelimit-remaining-${label}`] = String(Math.max(0, tightest.remaining));
    ctx.responseHeaders[`x-ratelimit-reset-${label}`] = `${Math.max(0, Math.ceil(tightest.resetMs / 1000))}s`;
  }
}
