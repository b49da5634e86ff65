/**
 * A cheap necessary condition for "libphonenumber says this national-format number is valid for
 * region R", from libphonenumber's own metadata, so most digit runs that are not phone numbers
 * (order ids, amounts, references) are turned down without a parse. A parse costs ≈ 12 µs a
 * region (libphonenumber-js re-normalizes the text and compiles its patterns on every call); a
 * prompt with one 11-digit reference cost ≈ 85 µs over the default ten regions, more than the
 * rest of the gateway's work on a request (issue 30).
 *
 * How a national number is read (libphonenumber-js `parse`, default country R): the digits D, or
 * D with R's national prefix for parsing stripped, or D with R's calling code stripped (then
 * possibly the national prefix too). The number is valid only if that national significant
 * number matches entirely the national number pattern of the country it is assigned to, one of
 * the countries sharing R's calling code. So: valid ⇒ one of those (at most four) digit strings
 * matches one of those patterns. Two readings this does not cover send the number to the parse
 * as before: a region whose prefix rule rewrites the digits (a transform rule, 32 of 245
 * regions, e.g. AR, BR, MX… none of the defaults but BR), and digits starting with R's
 * international dialling prefix (the number is then read as another country's).
 *
 * The candidates reaching this come from detectPhones' pattern: ASCII digits and separators,
 * never an extension marker (so no digits are lost to an extension).
 * test/guardrails/phone-plan.test.ts checks "rejected here ⇒ invalid for libphonenumber" for
 * every region on libphonenumber's example numbers, their variants and random digit runs.
 */
import { type CountryCode, getCountries, Metadata } from "libphonenumber-js/max";

interface NumberingPlanView {
  callingCode(): string;
  IDDPrefix(): string | undefined;
  nationalPrefixForParsing(): string | undefined;
  nationalPrefixTransformRule(): string | undefined;
  nationalNumberPattern(): string;
}

export interface RegionPlan {
  /** false: no shortcut for this region, always parse. */
  checkable: boolean;
  callingCode: string;
  idd?: RegExp;
  nationalPrefix?: RegExp;
  /** The national number patterns of every country sharing the calling code, anchored. */
  patterns: RegExp;
}

function planOf(metadata: Metadata, region: CountryCode): RegionPlan {
  // Not in the typings: the numbering plan's own accessors, the ones libphonenumber-js's parse reads.
  const select = (code: string) => {
    metadata.selectNumberingPlan(code as CountryCode);
    return (metadata as unknown as { numberingPlan: NumberingPlanView }).numberingPlan;
  };
  const plan = select(region);
  const callingCode = plan.callingCode();
  const idd = plan.IDDPrefix();
  const np = plan.nationalPrefixForParsing();
  const transform = Boolean(plan.nationalPrefixTransformRule());
  const group = getCountries().filter((c) => select(c).callingCode() === callingCode);
  const patterns = new RegExp(`^(?:${group.map((c) => `(?:${select(c).nationalNumberPattern()})`).join("|")})$`);
  return {
    checkable: !transform,
    callingCode,
    ...(idd ? { idd: new RegExp(`^(?:${idd})`) } : {}),
    ...(np ? { nationalPrefix: new RegExp(`^(?:${np})`) } : {}),
    patterns,
  };
}

const plans = new Map<string, RegionPlan>();
let metadata: Metadata | undefined;

/** The region's plan (built once, from the metadata). */
export function regionPlan(region: CountryCode): RegionPlan {
  let p = plans.get(region);
  if (!p) {
    metadata ??= new Metadata();
    p = planOf(metadata, region);
    plans.set(region, p);
  }
  return p;
}

/** The national significant number readings of `digits` under the plan (see the module comment). */
function readings(digits: string, plan: RegionPlan): string[] {
  const out = [digits];
  const strip = (d: string) => {
    const m = plan.nationalPrefix?.exec(d);
    if (m && m[0].length > 0) out.push(d.slice(m[0].length));
  };
  strip(digits);
  if (digits.startsWith(plan.callingCode)) {
    const rest = digits.slice(plan.callingCode.length);
    out.push(rest);
    strip(rest);
  }
  return out;
}

/**
 * False only when `digits` (ASCII digits of a national-format candidate) cannot be a valid number
 * for `region`; true means "ask libphonenumber".
 */
export function mayBeValidNational(digits: string, region: CountryCode): boolean {
  const plan = regionPlan(region);
  if (!plan.checkable || plan.idd?.test(digits)) return true;
  for (const nsn of readings(digits, plan)) if (plan.patterns.test(nsn)) return true;
  return false;
}
