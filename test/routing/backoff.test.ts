import { describe, expect, test } from "bun:test";
import { backoffDelay, planRetry, retryDelay, type AttemptError, type RetryPlan } from "../../src/routing/backoff.ts";
import { ProviderError } from "../../src/providers/errors.ts";
import { mulberry32 } from "./helpers.ts";

describe("backoffDelay (full jitter)", () => {
  test("0 ≤ delay ≤ min(max, base·2^n) for many attempts and random draws", () => {
    const rand = mulberry32(3);
    for (let n = 0; n < 12; n++) {
      const cap = Math.min(5000, 100 * 2 ** n);
      let max = 0;
      for (let i = 0; i < 500; i++) {
        const d = backoffDelay(n, {}, rand);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(cap);
        max = Math.max(max, d);
      }
      expect(max).toBeGreaterThan(cap * 0.9); // the jitter really spans the range
    }
  });
  test("exact values: rand × cap", () => {
    expect(backoffDelay(0, {}, () => 0.5)).toBe(50);
    expect(backoffDelay(3, {}, () => 0.5)).toBe(400);
    expect(backoffDelay(10, {}, () => 0.5)).toBe(2500); // capped at maxMs 5000
    expect(backoffDelay(2, { baseMs: 10, maxMs: 30 }, () => 1)).toBe(30);
    expect(backoffDelay(0, {}, () => 0)).toBe(0);
  });
});

describe("retryDelay", () => {
  test("undefined when not retryable", () => {
    expect(retryDelay({ retryable: false, retryAfterMs: 10 }, 0, {}, () => 0.5)).toBeUndefined();
  });
  test("Retry-After wins over backoff and is not capped by maxMs", () => {
    expect(retryDelay({ retryable: true, retryAfterMs: 7_000 }, 0, { maxMs: 1000 }, () => 0.5)).toBe(7_000);
    expect(retryDelay({ retryable: true, retryAfterMs: 0 }, 5, {}, () => 0.5)).toBe(0);
  });
  test("backoff without Retry-After", () => {
    expect(retryDelay({ retryable: true }, 1, {}, () => 0.5)).toBe(100);
  });
});

describe("planRetry decisions", () => {
  const half = () => 0.5;
  const e5xx: AttemptError = { retryable: true, status: 502, code: "upstream_error" };
  const cases: Array<[string, Parameters<typeof planRetry>[0], RetryPlan["action"], number?]> = [
    ["retryable 5xx, first attempt → retry with backoff", { attempt: 0, maxRetries: 2, error: e5xx, deadlineRemainingMs: 10_000, rand: half }, "retry", 50],
    ["retryable, second attempt → retry with longer backoff", { attempt: 1, maxRetries: 2, error: e5xx, deadlineRemainingMs: 10_000, rand: half }, "retry", 100],
    ["retryable, retries exhausted → fallback", { attempt: 2, maxRetries: 2, error: e5xx, deadlineRemainingMs: 10_000, rand: half }, "fallback"],
    ["maxRetries 0 → fallback at once", { attempt: 0, maxRetries: 0, error: e5xx, deadlineRemainingMs: 10_000, rand: half }, "fallback"],
    ["429 with Retry-After that fits → retry after it", { attempt: 0, maxRetries: 2, error: { retryable: true, status: 429, code: "upstream_rate_limited", retryAfterMs: 2_000 }, deadlineRemainingMs: 10_000, rand: half }, "retry", 2_000],
    ["429 with Retry-After beyond the deadline → fallback", { attempt: 0, maxRetries: 2, error: { retryable: true, status: 429, code: "upstream_rate_limited", retryAfterMs: 30_000 }, deadlineRemainingMs: 10_000, rand: half }, "fallback"],
    ["backoff beyond the deadline → fallback", { attempt: 4, maxRetries: 9, error: e5xx, deadlineRemainingMs: 500, rand: half, backoff: { baseMs: 100 } }, "fallback"],
    ["502 upstream_auth_failed (not retryable) → fallback", { attempt: 0, maxRetries: 2, error: { retryable: false, status: 502, code: "upstream_auth_failed" }, deadlineRemainingMs: 10_000, rand: half }, "fallback"],
    ["502 upstream_invalid_response → fallback", { attempt: 0, maxRetries: 2, error: { retryable: false, status: 502, code: "upstream_invalid_response" }, deadlineRemainingMs: 10_000, rand: half }, "fallback"],
    ["400 from upstream → fail, no fallback", { attempt: 0, maxRetries: 2, error: { retryable: false, status: 400, code: "upstream_bad_request" }, deadlineRemainingMs: 10_000, rand: half }, "fail"],
    ["404 from upstream → fail", { attempt: 0, maxRetries: 2, error: { retryable: false, status: 404, code: "model_not_found" }, deadlineRemainingMs: 10_000, rand: half }, "fail"],
    ["422 from upstream → fail", { attempt: 0, maxRetries: 2, error: { retryable: false, status: 422 }, deadlineRemainingMs: 10_000, rand: half }, "fail"],
    ["not retryable, no status → fallback", { attempt: 0, maxRetries: 2, error: { retryable: false }, deadlineRemainingMs: 10_000, rand: half }, "fallback"],
    ["deadline already spent → fail", { attempt: 0, maxRetries: 2, error: e5xx, deadlineRemainingMs: 0, rand: half }, "fail"],
  ];
  for (const [name, input, action, delayMs] of cases) {
    test(name, () => {
      const plan = planRetry(input);
      expect(plan.action).toBe(action);
      if (plan.action === "retry") expect(plan.delayMs).toBe(delayMs as number);
      else expect(plan.reason.length).toBeGreaterThan(0);
    });
  }
  test("reasons say what decided", () => {
    const p = planRetry({ attempt: 0, maxRetries: 2, error: { retryable: true, status: 429, retryAfterMs: 30_000 }, deadlineRemainingMs: 10_000, rand: half });
    expect(p).toEqual({ action: "fallback", reason: "Retry-After 30000ms exceeds remaining deadline 10000ms" });
    expect(planRetry({ attempt: 2, maxRetries: 2, error: e5xx, deadlineRemainingMs: 1, rand: half })).toEqual({ action: "fallback", reason: "retries exhausted (3 attempts)" });
  });
  test("a real ProviderError fits AttemptError", () => {
    const err = new ProviderError({ provider: "openai", status: 429, code: "upstream_rate_limited", message: "slow down", retryable: true, retryAfterMs: 1_000 });
    expect(planRetry({ attempt: 0, maxRetries: 1, error: err, deadlineRemainingMs: 5_000, rand: half })).toEqual({ action: "retry", delayMs: 1_000 });
    const auth = new ProviderError({ provider: "openai", status: 502, code: "upstream_auth_failed", message: "bad key", retryable: false });
    expect(planRetry({ attempt: 0, maxRetries: 1, error: auth, deadlineRemainingMs: 5_000, rand: half }).action).toBe("fallback");
  });
});
