/**
 * The fast RFC 8785 serializer (src/cache/canonical-json.ts): the RFC's published test vectors,
 * and the `canonicalize` library (the reference it must equal) on generated values that reach
 * both its fast path and its fall-back.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import canonicalize from "canonicalize";
import { canonicalJson } from "../../src/cache/canonical-json.ts";
import { canonicalKeyText } from "../../src/cache/key.ts";
import { mulberry32 as rng } from "../helpers/rng.ts";

const VECTORS = join(import.meta.dir, "../fixtures/jcs");

describe("canonicalJson: RFC 8785 test vectors", () => {
  for (const name of ["arrays", "french", "structures", "unicode", "values", "weird"]) {
    test(name, () => {
      const input = JSON.parse(readFileSync(join(VECTORS, `${name}.input.json`), "utf8"));
      expect(canonicalJson(input)).toBe(readFileSync(join(VECTORS, `${name}.output.json`), "utf8"));
    });
  }
});

const KEYS = ["role", "content", "model", "a", "B", "_", "é", "€", "😂", "\u0000", "\n", "", "10", "9", "0", "01", "-1", "1e3", "4294967294", "4294967295", "ab\u{1F600}", "zz", "Z"];
const STRINGS = ["", "hi", "Ünïcödé", "line\nbreak", "quote\"back\\slash", "\u2028\u2029", "😂", "\u007f", "</script>", "\ud800", "x\udc00y"];
const NUMBERS = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 123456789012345680000, 5e-324, 1.7976931348623157e308, 333333333.3333333, NaN, Infinity, 2 ** 53];

function gen(r: () => number, depth: number, tricky: boolean): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const k = r();
  if (depth <= 0 || k < 0.35) {
    const p = r();
    if (p < 0.4) return tricky ? pick(STRINGS) : pick(STRINGS.filter((s) => s.isWellFormed()));
    if (p < 0.75) return tricky ? pick(NUMBERS) : pick(NUMBERS.filter(Number.isFinite));
    if (p < 0.85) return r() < 0.5;
    if (p < 0.95) return null;
    return tricky ? undefined : null;
  }
  if (k < 0.6) return Array.from({ length: Math.floor(r() * 4) }, () => gen(r, depth - 1, tricky));
  const o: Record<string, unknown> = {};
  const n = Math.floor(r() * 5);
  for (let i = 0; i < n; i++) {
    const key = pick(KEYS);
    if (!tricky && /^\d/.test(key)) continue;
    o[key] = gen(r, depth - 1, tricky);
  }
  return o;
}

function reference(v: unknown): { text?: string | undefined; error?: string } {
  try {
    return { text: canonicalize(v) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

function ours(v: unknown): { text?: string | undefined; error?: string } {
  try {
    return { text: canonicalJson(v) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

describe("canonicalJson equals the canonicalize library", () => {
  test("on 20,000 generated values without integer-like keys (the fast path)", () => {
    const r = rng(8785);
    for (let i = 0; i < 20_000; i++) {
      const v = gen(r, 4, false);
      expect(ours(v)).toEqual(reference(v));
    }
  });

  test("on 20,000 generated values with integer-like keys, lone surrogates, NaN, undefined (the fall-back)", () => {
    const r = rng(2020);
    let errors = 0;
    for (let i = 0; i < 20_000; i++) {
      const v = gen(r, 4, true);
      const want = reference(v);
      if (want.error) errors++;
      expect(ours(v)).toEqual(want);
    }
    expect(errors).toBeGreaterThan(100); // the refusals were reached, and refused alike
  });

  test("integer-like keys sort as strings, not in the engine's numeric order", () => {
    const v = { b: 1, "10": 2, "9": 3, a: { "2": true, "1": false } };
    expect(canonicalJson(v)).toBe('{"10":2,"9":3,"a":{"1":false,"2":true},"b":1}');
  });

  test("special objects go through the library: toJSON, Date, boxed values", () => {
    const v = { when: new Date(0), n: new Number(3), s: new String("x"), t: { toJSON: () => ({ z: 1, a: 2 }) } };
    expect(canonicalJson(v)).toBe(canonicalize(v)!);
  });

  test("a chat request's key text (logit_bias has integer-like keys)", () => {
    const request = { model: "gpt-4o-mini", messages: [{ role: "user", content: "Bonjour, ça va ? 😂" }], temperature: 0, logit_bias: { "50256": -100, "1000": 5 }, stop: ["\n"] };
    const text = canonicalKeyText({ scope: "tenant:t", operation: "chat", request: request as never, route: { model: "gpt-4o-mini" } });
    expect(text).toBe(canonicalize({ v: 1, scope: "tenant:t", op: "chat", model: "gpt-4o-mini", route: { model: "gpt-4o-mini" }, request: { messages: request.messages, temperature: 0, logit_bias: request.logit_bias, stop: ["\n"] } })!);
    expect(text).toContain('"logit_bias":{"1000":5,"50256":-100}');
  });
});
