/** Issue 23's detector rules (pure): every real card scheme, IBANs in any case, phones by region with extensions and the context rule. */
import { describe, expect, test } from "bun:test";
import { compilePolicy, effectiveFields, guardrailsProblem, guardrailsSnapshot, policyFor } from "../../src/guardrails/config.ts";
import { knownIin, luhnOk } from "../../src/guardrails/financial.ts";
import { DEFAULT_PHONE_OPTIONS, detectPhones } from "../../src/guardrails/phone.ts";
import { Redactor } from "../../src/guardrails/redact.ts";
import { scanText } from "../../src/guardrails/scan.ts";
import { PII_TYPES, type PiiType } from "../../src/guardrails/types.ts";

const ALL = new Set<PiiType>(PII_TYPES);
const found = (text: string) => scanText(text, { types: ALL }).map((f) => `${f.type}:${text.slice(f.start, f.end)}`);

/** A Luhn-valid number: `prefix`, filler digits, and the check digit. */
function luhn(prefix: string, length: number): string {
  let body = prefix;
  for (let i = 0; body.length < length - 1; i++) body += String((i * 7 + 3) % 10);
  for (let d = 0; d <= 9; d++) if (luhnOk(body + d)) return body + d;
  throw new Error("unreachable");
}

describe("cards: every real scheme, Luhn-valid, 12–19 digits", () => {
  const cases: Array<[string, string, number[]]> = [
    ["Maestro 50", "5018", [12, 13, 15, 16, 19]],
    ["Maestro 56–69", "6759", [12, 16, 18, 19]],
    ["Maestro 63", "6304", [16, 18]],
    ["JCB 35 (outside 3528–3589)", "3500", [16, 19]],
    ["JCB 3527", "3527", [16]],
    ["JCB 15-digit 1800", "1800", [15]],
    ["JCB 15-digit 2131", "2131", [15]],
    ["UnionPay 62", "6212", [16, 19]],
    ["UnionPay 81", "8171", [16]],
    ["Mir", "2200", [16]],
    ["Mir 2204", "2204", [16]],
    ["Mastercard 2-series", "2720", [16]],
    ["Diners 3095", "3095", [14]],
  ];
  for (const [name, prefix, lengths] of cases) {
    test(name, () => {
      for (const n of lengths) {
        const card = luhn(prefix, n);
        expect(knownIin(card)).toBe(true);
        expect(found(`paid with ${card}.`)).toEqual([`card:${card}`]);
      }
    });
  }
  test("hard negatives stay negative: wrong length, no scheme, IMEI grouping, Luhn failure", () => {
    expect(knownIin(luhn("1800", 16))).toBe(false); // 1800 is 15 digits only
    expect(knownIin(luhn("7", 16))).toBe(false); // no scheme starts with 7
    expect(knownIin(luhn("0", 16))).toBe(false);
    expect(found("Device IMEI 57-272244-689145-6 was registered.")).toEqual([]); // 2-6-6-1: an IMEI (Luhn-valid, 57…)
    const good = luhn("6759", 16);
    const bad = good.slice(0, -1) + String((Number(good.at(-1)) + 1) % 10);
    expect(found(`ref ${bad}`)).toEqual([]);
    expect(found("order 20240315103000 shipped")).toEqual([]); // a timestamp
  });
});

describe("IBANs in any case, with or without spaces", () => {
  test("lower, upper and mixed case", () => {
    for (const v of ["de89 3704 0044 0532 0130 00", "de89370400440532013000", "De89 3704 0044 0532 0130 00", "gb29nwbk60161331926819", "GB29 NWBK 6016 1331 9268 19"]) {
      expect(found(`IBAN ${v}.`)).toEqual([`iban:${v}`]);
    }
    expect(found("iban de89370400440532013001")).toEqual([]); // mod-97 fails
  });
});

describe("phones", () => {
  test("+ and 00 with a country code: any country libphonenumber knows", () => {
    for (const v of ["+44 7700 900123", "+44 20 7946 0958", "0044 20 7946 0958", "+33 6 12 34 56 78", "+49 30 12345678", "+39 06 6982 1234", "+34 912 34 56 78", "+61 2 9374 4000", "+91 98765 43210", "+55 11 98765-4321", "+84 912 345 678", "+1 (415) 555-2671", "+81 3-1234-5678", "+27 21 123 4567"]) {
      expect(found(`call ${v} today`)).toEqual([`phone:${v}`]);
    }
  });
  test("national formats of the default regions, with spaces, dots, dashes and parentheses", () => {
    for (const v of ["07700 900123", "020 7946 0958", "030 12345678", "(030) 1234567", "06 12 34 56 78", "06.12.34.56.78", "06 6982 1234", "912 34 56 78", "(02) 9374 4000", "0412 345 678", "098765 43210", "(11) 98765-4321", "0912 345 678", "(415) 555-2671", "415.555.2671", "415-555-2671"]) {
      expect(found(`Reach me at ${v}.`)).toEqual([`phone:${v}`]);
    }
  });
  test("extensions are part of the finding", () => {
    expect(found("call (415) 555-2671 x4587 now")).toEqual(["phone:(415) 555-2671 x4587"]);
    expect(found("+1 415-555-2671 ext. 12 ok")).toEqual(["phone:+1 415-555-2671 ext. 12"]);
    expect(found("020 7946 0958 extension 3")).toEqual(["phone:020 7946 0958 extension 3"]);
  });
  test("context rule: a bare national digit run needs a phone word before it (mode `bare`)", () => {
    expect(found("order 0612345678 shipped")).toEqual([]);
    expect(found("phone 0612345678")).toEqual(["phone:0612345678"]);
    expect(found("Điện thoại: 0612345678")).toEqual(["phone:0612345678"]);
    expect(found("Population grew to 77.261.175")).toEqual([]); // thousands grouping: ambiguous
    expect(found("gọi 0912345678")).toEqual(["phone:0912345678"]); // Vietnamese with trunk 0: accepted bare, as before
    const always = { ...DEFAULT_PHONE_OPTIONS, context: "always" as const };
    expect(detectPhones("Write down 020 7946 0958.", always)).toEqual([]);
    expect(detectPhones("Tel 020 7946 0958.", always)).toHaveLength(1);
    expect(detectPhones("+44 20 7946 0958", always)).toHaveLength(1); // international numbers never need it
    expect(detectPhones("order 0612345678", { ...DEFAULT_PHONE_OPTIONS, context: "never" })).toHaveLength(1);
  });
  test("hard negatives: dates, decimals, ZIP+4, IMEIs, SKUs, times, amounts", () => {
    for (const t of ["on 2024-03-15 at 10:30", "run time 49285.679 ms", "ZIP 09849-4030", "IMEI 26-422424-952530-1", "SKU 4565-6473-6958", "total $628598.52", "build 20240315", "v1.2.3.4567"]) expect(found(t)).toEqual([]);
  });
  test("regions are configurable: a region left out is not recognised nationally, + numbers still are", () => {
    const onlyUs = { regions: ["US"] as const, context: "bare" as const };
    expect(detectPhones("Reach me at 020 7946 0958.", onlyUs)).toEqual([]);
    expect(detectPhones("Reach me at (415) 555-2671.", onlyUs)).toHaveLength(1);
    expect(detectPhones("Reach me at +44 20 7946 0958.", onlyUs)).toHaveLength(1);
    expect(detectPhones("Reach me at 03-1234-5678.", { regions: ["US", "JP"], context: "bare" })).toHaveLength(1);
    expect(detectPhones("Reach me at 03-1234-5678.", onlyUs)).toEqual([]);
  });
});

describe("phone settings in the guardrails config", () => {
  test("global and per tenant; the tenant's win; the policy carries them to the scanner", () => {
    const snap = guardrailsSnapshot({
      global: { fields: { pii: { action: "redact", phone_regions: ["GB"] } } },
      "tenant:jp": { fields: { pii: { phone_regions: ["JP"], phone_context: "never" } } },
    });
    expect(policyFor(snap, "other")!.phone).toEqual({ regions: ["GB"], context: "bare" });
    expect(policyFor(snap, "jp")!.phone).toEqual({ regions: ["JP"], context: "never" });
    expect(policyFor(snap, "jp")!.effective.pii).toMatchObject({ phone_regions: ["JP"], phone_context: "never" });
    const redact = (tenant: string, text: string) => new Redactor(policyFor(snap, tenant)!).process(text, "input").text;
    expect(redact("jp", "call 03-1234-5678")).toBe("call [PHONE_1]");
    expect(redact("other", "call 03-1234-5678")).toBe("call 03-1234-5678");
    expect(redact("other", "call 020 7946 0958")).toBe("call [PHONE_1]");
  });
  test("defaults when unset; unknown regions are a 400-style problem with its param", () => {
    expect(compilePolicy(effectiveFields({ pii: { action: "redact" } }, undefined)).phone).toBe(DEFAULT_PHONE_OPTIONS);
    expect(guardrailsProblem({ pii: { phone_regions: ["GB", "XX"] } })).toEqual({ param: "pii.phone_regions.1", message: expect.stringContaining("XX") });
    expect(guardrailsProblem({ pii: { phone_regions: ["GB"] } })).toBeUndefined();
  });
});
