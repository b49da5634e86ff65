/**
 * What both StateStore implementations share for admission: input checks and normalisation,
 * the UTC calendar periods, and the constants that make their behaviour identical. The Redis
 * store does the same calendar arithmetic in Lua (admission.lua, op `calendar` is cross-checked
 * against {@link periodOf} in the tests).
 */
import type { AdmissionRequest, SettleRequest } from "./state-store.ts";

/** How long settled request ids are remembered (a second settle within it changes nothing). */
export const DEFAULT_SETTLED_RETENTION_MS = 60 * 60 * 1000;
/** Budget period state is kept this long after the period (or its latest hold) ends. */
export const BUDGET_GRACE_MS = 24 * 60 * 60 * 1000;

const DAY_MS = 86_400_000;
const PERIOD_NAME = /^(?:day:(\d{4})-(\d{2})-(\d{2})|month:(\d{4})-(\d{2}))$/;

export interface Period {
  /** `day:YYYY-MM-DD` or `month:YYYY-MM` */
  name: string;
  /** First ms after the period (UTC). */
  endMs: number;
}

/** The period containing `nowMs` (UTC). */
export function periodOf(kind: "day" | "month", nowMs: number): Period {
  const d = new Date(nowMs);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  if (kind === "day") {
    return { name: `day:${pad(y, 4)}-${pad(m + 1, 2)}-${pad(d.getUTCDate(), 2)}`, endMs: (Math.floor(nowMs / DAY_MS) + 1) * DAY_MS };
  }
  return { name: `month:${pad(y, 4)}-${pad(m + 1, 2)}`, endMs: Date.UTC(y, m + 1, 1) };
}

/** Period names seen (a handful: one per budget period), with their end: checked once each. */
const ends = new Map<string, number | undefined>();

/** The end of a period named by {@link periodOf}, or undefined for a malformed name. */
export function periodEndMs(name: string): number | undefined {
  if (ends.has(name)) return ends.get(name);
  const end = parsePeriodEnd(name);
  if (ends.size >= 1024) ends.clear();
  ends.set(name, end);
  return end;
}

function parsePeriodEnd(name: string): number | undefined {
  const m = PERIOD_NAME.exec(name);
  if (!m) return undefined;
  const kind = m[1] !== undefined ? "day" : "month";
  const end = kind === "day" ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + 1) : Date.UTC(Number(m[4]), Number(m[5]), 1);
  // Only real dates (no month 13, no February 30th): the name must be the one periodOf gives.
  return periodOf(kind, end - 1).name === name ? end : undefined;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/** An admission request with every number checked and rounded the way both stores store it. */
export function normalizeAdmission(req: AdmissionRequest): AdmissionRequest {
  checkId(req.requestId);
  const rateKeys = new Set<string>();
  const rates = req.rates.map((r) => {
    checkKey(r.key, "rate");
    if (rateKeys.has(r.key)) throw new RangeError(`rate key ${JSON.stringify(r.key)} appears twice`);
    rateKeys.add(r.key);
    if (!Number.isSafeInteger(r.limit) || r.limit < 0) throw new RangeError(`rate limit must be an integer ≥ 0, got ${r.limit}`);
    return { key: r.key, limit: r.limit, windowMs: positiveMs(r.windowMs, "windowMs"), cost: units(r.cost, "cost") };
  });
  const budgetKeys = new Set<string>();
  const budgets = req.budgets.map((b) => {
    checkKey(b.key, "budget");
    if (b.period !== "day" && b.period !== "month") throw new RangeError(`budget period must be "day" or "month", got ${String(b.period)}`);
    const id = `${b.period}\u0000${b.key}`;
    if (budgetKeys.has(id)) throw new RangeError(`budget ${JSON.stringify(b.key)} (${b.period}) appears twice`);
    budgetKeys.add(id);
    if (!Number.isSafeInteger(b.limitMicros)) throw new RangeError(`limitMicros must be a safe integer, got ${b.limitMicros}`);
    const pct = b.thresholdPct;
    if (pct !== undefined && !(Number.isFinite(pct) && pct > 0)) throw new RangeError(`thresholdPct must be a positive number, got ${pct}`);
    return pct === undefined ? { key: b.key, limitMicros: b.limitMicros, period: b.period } : { ...b, thresholdPct: pct };
  });
  if (!Number.isFinite(req.reserveMicros)) throw new RangeError(`reserveMicros must be finite, got ${req.reserveMicros}`);
  const reserveMicros = Math.max(0, Math.ceil(req.reserveMicros));
  if (!Number.isSafeInteger(reserveMicros)) throw new RangeError(`reserveMicros is too large: ${req.reserveMicros}`);
  const out: AdmissionRequest = { requestId: req.requestId, rates, budgets, reserveMicros, reservationTtlMs: positiveMs(req.reservationTtlMs, "reservationTtlMs") };
  if (req.minReserveMicros !== undefined) {
    if (!Number.isFinite(req.minReserveMicros)) throw new RangeError(`minReserveMicros must be finite, got ${req.minReserveMicros}`);
    out.minReserveMicros = Math.min(reserveMicros, Math.max(0, Math.ceil(req.minReserveMicros)));
  }
  return out;
}

/** A settle request checked and rounded (periods must be names an admission returned). */
export function normalizeSettle(req: SettleRequest): Required<SettleRequest> {
  checkId(req.requestId);
  const budgets = req.budgets.map((b) => {
    checkKey(b.key, "budget");
    if (periodEndMs(b.period) === undefined) throw new RangeError(`not a budget period: ${JSON.stringify(b.period)}`);
    return { key: b.key, period: b.period };
  });
  const rates = (req.rates ?? []).map((r) => {
    checkKey(r.key, "rate");
    // A correction (issue 30): units placed at an earlier time, e.g. the admission's, may be negative.
    if (r.at !== undefined) {
      if (!Number.isSafeInteger(r.at) || r.at < 0) throw new RangeError(`at must be an integer ms ≥ 0, got ${r.at}`);
      if (!Number.isSafeInteger(r.cost)) throw new RangeError(`cost must be an integer, got ${r.cost}`);
      return { key: r.key, windowMs: positiveMs(r.windowMs, "windowMs"), cost: r.cost, at: r.at };
    }
    return { key: r.key, windowMs: positiveMs(r.windowMs, "windowMs"), cost: units(r.cost, "cost") };
  });
  return { requestId: req.requestId, budgets, actualMicros: units(req.actualMicros, "actualMicros"), rates };
}

export function checkPeekRate(limit: number, windowMs: number): number {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`rate limit must be an integer ≥ 0, got ${limit}`);
  return positiveMs(windowMs, "windowMs");
}

export function checkPeriodKind(kind: string): void {
  if (kind !== "day" && kind !== "month") throw new RangeError(`budget period must be "day" or "month", got ${kind}`);
}

function checkId(id: string): void {
  if (typeof id !== "string" || id.length === 0) throw new RangeError("requestId must be a non-empty string");
}

function checkKey(key: string, what: string): void {
  if (typeof key !== "string" || key.length === 0) throw new RangeError(`${what} key must be a non-empty string`);
}

/** Whole ms ≥ 1. */
function positiveMs(ms: number, what: string): number {
  if (!Number.isFinite(ms) || ms <= 0) throw new RangeError(`${what} must be a positive number, got ${ms}`);
  return Math.ceil(ms);
}

/** A non-negative amount, rounded up to a whole unit. */
function units(n: number, what: string): number {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`${what} must be a finite number ≥ 0, got ${n}`);
  const whole = Math.ceil(n);
  if (!Number.isSafeInteger(whole)) throw new RangeError(`${what} is too large: ${n}`);
  return whole;
}
