/**
 * Pure: how much of a budget a request reserves before its provider call, and what the 429 says
 * when it cannot. The limits plugin does the I/O (one admission call).
 *
 * - With `max_tokens` (or `max_completion_tokens`) the client fixed the worst case: the prompt
 *   plus that many output tokens at the dearest target's price, all or nothing.
 * - Without it, the worst case is what the model can produce: its context window (bundled
 *   catalog) minus the prompt, or `defaultMaxTokens` when the catalog does not know the model.
 *   The reservation is flexible: the store reserves what the budget can still fit, down to the
 *   prompt plus {@link MIN_OUTPUT_TOKENS}; when it reserved less than the worst case, the plugin
 *   sets `max_tokens` to what the reservation covers, so the call cannot cost more than reserved
 *   and the budget is never exceeded.
 */
import type { Ctx } from "../pipeline/context.ts";
import { contextWindowFor, maxRates, priceFor } from "../pricing/price.ts";
import type { AdmissionResult, BudgetState } from "../stores/state-store.ts";

/** The fewest output tokens a capped request is still worth sending for. */
export const MIN_OUTPUT_TOKENS = 16;

export interface ReservePlan {
  /** Worst case, micro-USD. */
  reserveMicros: number;
  /** Flexible reservation floor (undefined: all or nothing). */
  minReserveMicros?: number;
  promptTokens: number;
  /** Output tokens of the worst case. */
  outputTokens: number;
  /** Dearest per-token rates over the targets, micro-USD per token. */
  rates: { input: number; output: number };
  /** The client set max_tokens itself. */
  explicit: boolean;
}

/** The dearest per-token rates (micro-USD) over the request's targets; zeros when none is priced. */
export function dearestRates(ctx: Ctx): { input: number; output: number } {
  const targets = ctx.targets ?? (ctx.target ? [ctx.target] : []);
  let input = 0;
  let output = 0;
  for (const t of targets) {
    const p = priceFor(ctx.config, t.provider.id, t.model);
    if (!p) continue;
    const r = maxRates(p);
    input = Math.max(input, r.input);
    output = Math.max(output, r.output);
  }
  return { input, output };
}

/** What the request's targets can produce without `max_tokens`: the largest per-target ceiling. */
export function outputCeiling(ctx: Ctx, promptTokens: number, defaultMaxTokens: number): number {
  const targets = ctx.targets ?? (ctx.target ? [ctx.target] : []);
  let most = 0;
  for (const t of targets) {
    const window = contextWindowFor(ctx.config, t.provider.id, t.model);
    most = Math.max(most, window ? Math.max(1, window - promptTokens) : defaultMaxTokens);
  }
  return most || defaultMaxTokens;
}

/**
 * `promptTokens` may be an upper bound (the limits plugin's cheap estimate); then pass
 * `promptFloor` = a figure the real prompt is never under (0 will do) for the output ceiling:
 * the model's window minus the *bound* would under-state what the model can still produce.
 */
export function planReserve(ctx: Ctx, promptTokens: number, defaultMaxTokens: number, promptFloor = promptTokens): ReservePlan {
  const rates = dearestRates(ctx);
  const asked = ctx.request.max_completion_tokens ?? ctx.request.max_tokens;
  const chat = ctx.operation === "chat";
  const explicit = asked !== undefined && asked !== null;
  const outputTokens = !chat ? 0 : explicit ? asked : outputCeiling(ctx, Math.min(promptFloor, promptTokens), defaultMaxTokens);
  const reserveMicros = Math.ceil(promptTokens * rates.input + outputTokens * rates.output);
  const plan: ReservePlan = { reserveMicros, promptTokens, outputTokens, rates, explicit };
  if (chat && !explicit && rates.output > 0) {
    plan.minReserveMicros = Math.ceil(promptTokens * rates.input + Math.min(outputTokens, MIN_OUTPUT_TOKENS) * rates.output);
  }
  return plan;
}

/**
 * Output tokens a reservation of `reservedMicros` covers (undefined: the whole worst case was
 * reserved). `promptTokens` (default the plan's) may be a smaller figure the prompt is known not
 * to exceed (the exact count when the plan used the cheap bound): the cap then covers more.
 */
export function cappedOutputTokens(plan: ReservePlan, reservedMicros: number, promptTokens = plan.promptTokens): number | undefined {
  if (plan.minReserveMicros === undefined || reservedMicros >= plan.reserveMicros || plan.rates.output <= 0) return undefined;
  const covered = Math.floor((reservedMicros - Math.min(promptTokens, plan.promptTokens) * plan.rates.input) / plan.rates.output);
  return Math.max(1, Math.min(plan.outputTokens, covered));
}

/**
 * Pure: was a budget denial caused only by holds of requests in flight? True when the denied
 * budget's settled spend still leaves room for this request's (minimum) reservation: once those
 * requests settle (to their actual cost, often below a bound-sized hold) it may fit.
 */
export function blockedByHolds(plan: ReservePlan, result: AdmissionResult): boolean {
  if (result.allowed || result.denied.kind !== "budget") return false;
  const which = result.denied.key;
  const b = result.budgets.find((x) => x.key === which);
  const need = plan.minReserveMicros ?? plan.reserveMicros;
  return !!b && b.reservedMicros > 0 && b.spentMicros + need <= b.limitMicros;
}

const usd = (micros: number) => `$${(micros / 1e6).toFixed(6).replace(/0{1,4}$/, "")}`;

/** The 429 message: the estimate, what remains, and what to do. Numbers only, no prompt text. */
export function budgetDeniedMessage(plan: ReservePlan, budget: BudgetState | undefined, which: string, period: string | undefined): string {
  const needed = plan.minReserveMicros ?? plan.reserveMicros;
  const remaining = budget ? Math.max(0, budget.limitMicros - budget.spentMicros - budget.reservedMicros) : undefined;
  const out = plan.minReserveMicros !== undefined ? Math.min(plan.outputTokens, MIN_OUTPUT_TOKENS) : plan.outputTokens;
  const estimate = `this request is estimated at up to ${usd(needed)} (${plan.promptTokens} prompt + ${out} output tokens)`;
  const left = remaining === undefined ? "" : `, and ${usd(remaining)} of ${usd(budget!.limitMicros)} remains this ${period ?? "period"}${budget!.reservedMicros > 0 ? ` (${usd(budget!.reservedMicros)} held by requests in flight)` : ""}`;
  const fix = plan.explicit ? "; set `max_tokens` lower, or raise the budget" : "; set `max_tokens` to a small number, or raise the budget";
  const [, scope, id] = which.split(":");
  const name = scope && id ? `The ${scope} budget of \`${id}\`` : `Budget ${which}`;
  return `${name} cannot fit this request: ${estimate}${left}${fix}`;
}
