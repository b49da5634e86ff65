/**
 * Admission on Redis: the arguments and replies of admission.lua (one EVALSHA per call; the
 * script's header documents its layout, keys and rules). RedisStateStore registers the script
 * with `defineCommand` and delegates here.
 */
import { readFileSync } from "node:fs";
import {
  BUDGET_GRACE_MS,
  checkPeekRate,
  checkPeriodKind,
  normalizeAdmission,
  normalizeSettle,
} from "./admission.ts";
import type { AdmissionRequest, AdmissionResult, BudgetState, RateState, SettleRequest } from "./state-store.ts";

/** The script's source (read once, next to this file). */
export const ADMISSION_LUA = readFileSync(new URL("./admission.lua", import.meta.url), "utf8");

/** Runs admission.lua: `numKeys`, then KEYS, then ARGV (what ioredis `defineCommand` gives). */
export type AdmissionScript = (numKeys: number, ...keysAndArgs: string[]) => Promise<unknown[]>;

type Reply = unknown[];

export class RedisAdmission {
  constructor(
    private readonly run: AdmissionScript,
    private readonly prefix: string,
    private readonly settledRetentionMs: number,
  ) {}

  async admit(input: AdmissionRequest): Promise<AdmissionResult> {
    const req = normalizeAdmission(input);
    const keys: string[] = [];
    const args = this.header("admit");
    args.push(req.requestId, String(req.reserveMicros), String(req.reservationTtlMs), String(req.rates.length), String(req.budgets.length));
    for (const r of req.rates) {
      keys.push(this.rateKey(r.key), this.rateMetaKey(r.key));
      args.push(String(r.limit), String(r.windowMs), String(r.cost));
    }
    for (const b of req.budgets) {
      args.push(b.key, b.period, String(b.limitMicros), b.thresholdPct === undefined ? "" : String(b.thresholdPct));
    }
    args.push(String(req.minReserveMicros ?? req.reserveMicros));
    const reply = await this.run(keys.length, ...keys, ...args);

    const nowMs = num(reply, 1);
    let at = 5;
    const rates = req.rates.map((r): RateState => {
      const used = num(reply, at++);
      const resetMs = num(reply, at++);
      return { key: r.key, limit: r.limit, remaining: Math.max(0, r.limit - used), resetMs };
    });
    const budgets = req.budgets.map((b): BudgetState => ({
      key: b.key,
      period: str(reply, at++),
      limitMicros: b.limitMicros,
      spentMicros: num(reply, at++),
      reservedMicros: num(reply, at++),
      crossedThreshold: num(reply, at++) === 1,
    }));
    if (num(reply, 0) === 1) return { allowed: true, nowMs, rates, budgets, reservedMicros: num(reply, at) };

    const kind = str(reply, 2);
    const index = num(reply, 3) - 1;
    const key = kind === "rate" ? req.rates[index]?.key : req.budgets[index]?.key;
    if ((kind !== "rate" && kind !== "budget") || key === undefined) throw new Error(`admission script: malformed denial ${JSON.stringify(reply)}`);
    return { allowed: false, nowMs, denied: { kind, key, retryAfterMs: num(reply, 4) }, rates, budgets };
  }

  async settle(input: SettleRequest): Promise<{ settled: boolean }> {
    const req = normalizeSettle(input);
    const keys = [this.prefix + "settled:" + req.requestId];
    const args = this.header("settle");
    args.push(req.requestId, String(req.actualMicros), String(this.settledRetentionMs), String(req.budgets.length), String(req.rates.length));
    for (const b of req.budgets) args.push(b.key, b.period);
    for (const r of req.rates) {
      keys.push(this.rateKey(r.key), this.rateMetaKey(r.key));
      args.push(String(r.windowMs), String(r.cost), r.at !== undefined ? String(r.at) : "");
    }
    const reply = await this.run(keys.length, ...keys, ...args);
    return { settled: num(reply, 0) === 1 };
  }

  async peekBudget(key: string, period: "day" | "month"): Promise<BudgetState> {
    checkPeriodKind(period);
    const reply = await this.run(0, ...this.header("peek_budget"), key, period);
    return {
      key,
      period: str(reply, 1),
      limitMicros: num(reply, 4),
      spentMicros: num(reply, 2),
      reservedMicros: num(reply, 3),
      crossedThreshold: false,
    };
  }

  async peekRate(key: string, limit: number, windowMs: number): Promise<RateState> {
    const ms = checkPeekRate(limit, windowMs);
    const reply = await this.run(2, this.rateKey(key), this.rateMetaKey(key), ...this.header("peek_rate"), String(ms));
    return { key, limit, remaining: Math.max(0, limit - num(reply, 1)), resetMs: num(reply, 2) };
  }

  private header(op: string): string[] {
    return [op, this.prefix, String(BUDGET_GRACE_MS)];
  }

  private rateKey(key: string): string {
    return `${this.prefix}rate:${key}`;
  }

  private rateMetaKey(key: string): string {
    return `${this.prefix}ratemeta:${key}`;
  }
}

function num(reply: Reply, i: number): number {
  const v = reply[i];
  if (typeof v !== "number") throw new Error(`admission script: expected a number at ${i}, got ${JSON.stringify(v)}`);
  return v;
}

function str(reply: Reply, i: number): string {
  const v = reply[i];
  if (typeof v === "string") return v;
  if (Buffer.isBuffer(v)) return v.toString("utf8");
  throw new Error(`admission script: expected a string at ${i}, got ${JSON.stringify(v)}`);
}
