/**
 * Money as integer nano-dollars (1 USD = 1_000_000_000 nanos), end to end.
 *
 * The rounding rule (docs/pricing.md): a request's cost is computed exactly (prices are decimal
 * USD per 1M tokens, read from their shortest decimal form, × integer token counts, in BigInt) and
 * rounded ONCE, half-up, to the nano-dollar. Every sum after that (budgets rebuilt from the log,
 * analytics, dashboards) adds integers. USD figures shown to clients are that integer divided by
 * 10^9: the double nearest to the exact decimal (e.g. 13_500 nanos → 0.0000135).
 */

export const NANOS_PER_USD = 1_000_000_000;

/** Scale of a parsed rate: units of 10^-12 USD per 1M tokens. */
const RATE_SCALE = 12;
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

const rateCache = new Map<number, bigint>();

/** A USD-per-1M-token rate in 10^-12 USD per 1M tokens (memoised: prices are few). */
export function scaledRate(usdPerMillion: number): bigint {
  let r = rateCache.get(usdPerMillion);
  if (r === undefined) {
    r = decimalToScaled(usdPerMillion, RATE_SCALE);
    if (rateCache.size > 4096) rateCache.clear();
    rateCache.set(usdPerMillion, r);
  }
  return r;
}

/**
 * Σ tokens × rate (USD per 1M tokens) in integer nano-dollars, rounded once, half-up.
 * tokens × rate·10^12 is USD·10^18; a nano-dollar is USD·10^9, hence the 10^9 divisor.
 */
export function nanosOfTokens(terms: ReadonlyArray<readonly [tokens: number, usdPerMillion: number]>): number {
  let sum = 0n;
  for (const [tokens, rate] of terms) {
    if (tokens > 0 && Number.isFinite(tokens)) sum += BigInt(Math.floor(tokens)) * scaledRate(rate);
  }
  return Number((sum + 500_000_000n) / 1_000_000_000n);
}

/** Integer nano-dollars → USD, the double nearest the exact decimal (13_500 → 0.0000135). */
export function usdFromNanos(nanos: number | bigint | string): number {
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
  return nanos > 0 ? Math.floor((nanos + 500) / 1000) : 0;
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
