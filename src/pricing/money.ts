/**
 * Money as integer nano-dollars (1 USD = 1_000_000_000 nanos), end to end.
 *
 * The rounding rule (docs/analytics.md, "Money"): a request's cost is computed exactly (prices are
 * decimal USD per 1M tokens, read from their shortest decimal form, × integer token counts, in
 * integer arithmetic) and rounded ONCE, half-up, to the nano-dollar. Every sum after that (budgets rebuilt from the log,
 * analytics, dashboards) adds integers. USD figures shown to clients are that integer divided by
 * 10^9: the double nearest to the exact decimal (e.g. 13_500 nanos → 0.0000135).
 */

export const NANOS_PER_USD = 1_000_000_000;

const POW10: bigint[] = Array.from({ length: 40 }, (_, i) => 10n ** BigInt(i));

/**
 * `x` as an integer count of 10^-scale units, exactly from its shortest decimal representation
 * (`0.15` is 15/100, not the binary double's 0.1499999…), rounded half-up beyond `scale` digits.
 * Negative and non-finite values count as 0 (prices are ≥ 0).
 */
export function decimalToScaled(x: number, scale: number): bigint {
  if (!Number.isFinite(x) || x <= 0) return 0n;
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/.exec(String(x));
  if (!m) return 0n;
  const digits = BigInt(m[1]! + (m[2] ?? ""));
  // value = digits × 10^(exp - fractionDigits); we want value × 10^scale.
  const shift = scale + Number(m[3] ?? 0) - (m[2]?.length ?? 0);
  if (shift >= 0) return digits * (POW10[shift] ?? 10n ** BigInt(shift));
  const div = POW10[-shift] ?? 10n ** BigInt(-shift);
  return (digits + div / 2n) / div;
}

/** Decimal places a rate needs below the nano-dollar per token (rates beyond 10^-9 nano are rounded there). */
const MAX_SUBNANO_DIGITS = 9;

/**
 * A USD-per-1M-token rate as an exact integer per token: `units` of 10^-`digits` nano-dollars
 * ($0.15/M = 150 nanos per token, digits 0; $0.0375/M = 375 tenths of a nano, digits 1).
 */
interface NanoRate {
  units: bigint;
  /** `units` as a number (exact when `units` ≤ 2^53 - 1; else NaN, which sends the sum to BigInt). */
  unitsNumber: number;
  digits: number;
}
const rateCache = new Map<number, NanoRate>();

export function nanoRate(usdPerMillion: number): NanoRate {
  let r = rateCache.get(usdPerMillion);
  if (r === undefined) {
    // $/1M tokens × 10^9 nanos/$ ÷ 10^6 tokens = × 10^3 nanos per token; find the digits it needs.
    const exact = decimalToScaled(usdPerMillion, 3 + MAX_SUBNANO_DIGITS);
    let digits = MAX_SUBNANO_DIGITS;
    let units = exact;
    while (digits > 0 && units % 10n === 0n) {
      units /= 10n;
      digits--;
    }
    r = { units, unitsNumber: units <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(units) : Number.NaN, digits };
    if (rateCache.size > 4096) rateCache.clear();
    rateCache.set(usdPerMillion, r);
  }
  return r;
}

/**
 * Σ tokens × rate (USD per 1M tokens) in integer nano-dollars, rounded once, half-up. Exact:
 * integer arithmetic in units of the finest rate's sub-nano digits (plain numbers while they are
 * safe integers — the usual case, a few ns — else BigInt).
 */
export function nanosOfTokens(terms: ReadonlyArray<readonly [tokens: number, usdPerMillion: number]>): number {
  let digits = 0;
  const rates: NanoRate[] = [];
  for (const [, rate] of terms) {
    const r = nanoRate(rate);
    rates.push(r);
    if (r.digits > digits) digits = r.digits;
  }
  let sum = 0;
  let safe = true;
  for (let i = 0; i < terms.length && safe; i++) {
    const tokens = terms[i]![0];
    if (!(tokens > 0) || !Number.isFinite(tokens)) continue;
    const r = rates[i]!;
    const term = Math.floor(tokens) * r.unitsNumber * 10 ** (digits - r.digits);
    sum += term;
    safe = Number.isSafeInteger(term) && Number.isSafeInteger(sum + 10 ** digits);
  }
  if (safe) {
    return digits === 0 ? sum : divHalfUp(sum, 10 ** digits);
  }
  let big = 0n;
  for (let i = 0; i < terms.length; i++) {
    const tokens = terms[i]![0];
    if (!(tokens > 0) || !Number.isFinite(tokens)) continue;
    big += BigInt(Math.floor(tokens)) * rates[i]!.units * POW10[digits - rates[i]!.digits]!;
  }
  const unit = POW10[digits]!;
  return Number((big + unit / 2n) / unit);
}

/** `x / unit` rounded half-up, for non-negative safe integers, exact (a float quotient can be one off near an integer: the remainder fixes it). */
function divHalfUp(x: number, unit: number): number {
  const y = x + Math.floor(unit / 2);
  let q = Math.floor(y / unit);
  const rem = y - q * unit;
  if (rem < 0) q--;
  else if (rem >= unit) q++;
  return q;
}

/**
 * Integer nano-dollars → USD, the double nearest the exact decimal (13_500 → 0.0000135). For a safe
 * integer, `n / 1e9` is that double (IEEE division of two exact values is correctly rounded).
 */
export function usdFromNanos(nanos: number | bigint | string): number {
  if (typeof nanos === "number" && Number.isSafeInteger(nanos)) return nanos / NANOS_PER_USD;
  return Number(usdString(nanos));
}

/** Integer nano-dollars → the exact decimal USD string (`13500` → `"0.0000135"`, `0` → `"0"`). */
export function usdString(nanos: number | bigint | string): string {
  let n: bigint;
  try {
    n = typeof nanos === "bigint" ? nanos : BigInt(typeof nanos === "number" ? Math.round(nanos) : nanos.trim() || "0");
  } catch {
    return "0";
  }
  const neg = n < 0n;
  if (neg) n = -n;
  const whole = n / 1_000_000_000n;
  const frac = (n % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return `${neg ? "-" : ""}${whole}${frac ? `.${frac}` : ""}`;
}

/** A USD amount (a float from an old event or a plugin) as integer nanos, half-up; 0 unless a positive finite number. */
export function nanosFromUsd(usd: unknown): number {
  if (typeof usd !== "number" || !Number.isFinite(usd) || usd <= 0) return 0;
  return Number(decimalToScaled(usd, 9));
}

/** Integer nanos → integer micro-dollars, half-up (budgets count in micros). */
export function microsFromNanos(nanos: number): number {
  return nanos > 0 ? divHalfUp(nanos, 1000) : 0;
}

/**
 * The nanos recorded in an event payload: the integer `<field>Nanos` (request.completed v2+), else
 * the float `<field>Usd` of older events converted (they were rounded to the micro-dollar, so this
 * is exact for them). 0 for anything else.
 */
export function payloadNanos(payload: Record<string, unknown>, field: "cost" | "saved"): number {
  const n = payload[`${field}Nanos`];
  if (typeof n === "number" && Number.isSafeInteger(n) && n >= 0) return n;
  return nanosFromUsd(payload[`${field}Usd`]);
}
