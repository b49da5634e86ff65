/**
 * The phone shortcut (src/guardrails/phone-plan.ts) may only turn down what libphonenumber would
 * turn down: "rejected by the plan ⇒ not valid for libphonenumber", for every region it knows, on
 * libphonenumber's own example numbers (examples.mobile.json, one per region) written the ways
 * people write them, and on random digit runs.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type CountryCode, getCountries, getCountryCallingCode, parsePhoneNumberFromString } from "libphonenumber-js/max";
import { DEFAULT_PHONE_REGIONS } from "../../src/guardrails/phone.ts";
import { mayBeValidNational, regionPlan } from "../../src/guardrails/phone-plan.ts";
import { mulberry32 as rng } from "../helpers/rng.ts";

const examples = JSON.parse(readFileSync(createRequire(import.meta.url).resolve("libphonenumber-js/examples.mobile.json"), "utf8")) as Record<string, string>;
const REGIONS = getCountries();

/** An example national number written nationally, with trunk prefixes, with the calling code, grouped. */
function variants(region: CountryCode, nsn: string): string[] {
  const cc = getCountryCallingCode(region);
  const grouped = nsn.replace(/(\d{3})(?=\d{3})/g, "$1 ");
  return [nsn, `0${nsn}`, `1${nsn}`, `${cc}${nsn}`, `${cc}0${nsn}`, `00${cc}${nsn}`, `011${cc}${nsn}`, grouped, `(0${nsn.slice(0, 3)}) ${nsn.slice(3)}`, `${nsn.slice(0, -1)}`, `${nsn}7`];
}

/** Checks one written candidate against one region; returns whether the plan turned it down. */
function agree(written: string, region: CountryCode): boolean {
  const digits = written.replace(/\D/g, "");
  if (mayBeValidNational(digits, region)) return false;
  const valid = parsePhoneNumberFromString(written, region)?.isValid() ?? false;
  if (valid) throw new Error(`the plan turned down ${JSON.stringify(written)} for ${region}, libphonenumber says valid`);
  return true;
}

describe("phone plan: rejected ⇒ invalid", () => {
  test("every region's example number, in eleven written forms, against every region", () => {
    let rejected = 0;
    let checked = 0;
    const candidates = Object.entries(examples).flatMap(([r, nsn]) => variants(r as CountryCode, nsn));
    for (const region of REGIONS) {
      for (const c of candidates) {
        checked++;
        if (agree(c, region)) rejected++;
      }
    }
    // The shortcut does work: most (candidate, region) pairs never reach a parse.
    expect(checked).toBeGreaterThan(500_000);
    expect(rejected / checked).toBeGreaterThan(0.5);
  }, 120_000);

  test("each example is still valid for its own region (the plan lets it through)", () => {
    for (const [region, nsn] of Object.entries(examples)) {
      if (!parsePhoneNumberFromString(nsn, region as CountryCode)?.isValid()) continue;
      expect(mayBeValidNational(nsn, region as CountryCode)).toBe(true);
    }
  });

  test("30,000 random digit runs (8–15 digits, some with a trunk or calling-code prefix) against the default regions", () => {
    const r = rng(30);
    let rejected = 0;
    for (let i = 0; i < 30_000; i++) {
      const len = 8 + Math.floor(r() * 8);
      let d = "";
      for (let j = 0; j < len; j++) d += Math.floor(r() * 10);
      const region = DEFAULT_PHONE_REGIONS[i % DEFAULT_PHONE_REGIONS.length]!;
      const p = r();
      const written = p < 0.2 ? `0${d}` : p < 0.3 ? `${getCountryCallingCode(region)}${d}` : d;
      if (agree(written, region)) rejected++;
    }
    expect(rejected).toBeGreaterThan(15_000);
  }, 60_000);

  test("regions whose prefix rule rewrites digits are never shortcut", () => {
    expect(regionPlan("BR").checkable).toBe(false);
    expect(regionPlan("AR").checkable).toBe(false);
    expect(mayBeValidNational("1", "BR")).toBe(true);
    expect(regionPlan("GB").checkable).toBe(true);
    expect(mayBeValidNational("12345678942", "GB")).toBe(false);
  });
});
