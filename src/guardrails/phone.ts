/**
 * Phone numbers, validated with `libphonenumber-js` (its full metadata), not by counting digits:
 * - written with `+` or `00` and a country code: any number libphonenumber says is valid for that
 *   country (with `+`: of a possible length for it, which also takes reserved ranges such as the
 *   UK's fictional +44 7700 900xxx);
 * - written nationally: valid for one of the configured regions (default {@link DEFAULT_PHONE_REGIONS},
 *   settable globally and per tenant: `pii.phone_regions`);
 * - an extension after it (`x4587`, `ext. 12`, `extension 3`) is part of the finding;
 * - the context rule (`pii.phone_context`): a national number written as a bare digit run (no
 *   space, dot, dash or parenthesis — as ambiguous as an order number) needs a word such as
 *   phone / tel / call / mobile / điện thoại shortly before it (`bare`, the default); `always`
 *   asks it of every national number, `never` of none. Vietnamese mobile/landline numbers with
 *   their leading 0 stay accepted bare, as before.
 */
import { type CountryCode, getCountries, parsePhoneNumberFromString } from "libphonenumber-js/max";
import { mayBeValidNational } from "./phone-plan.ts";
import { collect, type Finding } from "./types.ts";

export const DEFAULT_PHONE_REGIONS: readonly CountryCode[] = ["US", "GB", "DE", "FR", "IT", "ES", "AU", "IN", "BR", "VN"];
export const PHONE_CONTEXT_MODES = ["bare", "always", "never"] as const;
export type PhoneContextMode = (typeof PHONE_CONTEXT_MODES)[number];

export interface PhoneOptions {
  regions: readonly CountryCode[];
  context: PhoneContextMode;
}
export const DEFAULT_PHONE_OPTIONS: PhoneOptions = { regions: DEFAULT_PHONE_REGIONS, context: "bare" };

const KNOWN = new Set<string>(getCountries());
/** True when libphonenumber has metadata for the region code. */
export const isPhoneRegion = (code: string): code is CountryCode => KNOWN.has(code);

const PHONE = /(?<![\w+.\-/:])(?:\+|00)?\(?\d[\d \-().]{6,18}\d(?![\w]|[.\-/:]\d)/g;
const DATE_LIKE = /\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}/;
const IPV4_LIKE = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
/** US ZIP+4 (`09849-4030`): never written that way as a phone number. */
const ZIP4 = /^\d{5}-\d{4}$/;
const EXT = /^\s?(?:x|ext\.?|extension|#)\s?\d{1,6}(?!\w)/i;
/** Words that make a number a phone number (EN, DE, FR, IT, ES, PT, VI), up to 48 chars before it. */
const CONTEXT = /(?:phone|tel\b|tél|telephone|téléphone|teléfono|telefono|telefone|telefon|call|ring|mobile|móvil|cellulare|celular|cell|handy|fax|whatsapp|contact|contato|contacto|contatto|reach|joignable|erreichbar|rufen|appelez|chiama|llame|ligue|điện thoại|đt|sđt|gọi|liên hệ)/i;

/** Per option set: candidate → valid (numbers repeat in a text and across requests); bounded. */
const memo = new WeakMap<PhoneOptions, Map<string, boolean>>();

/** Whether `candidate` (no extension) is a valid phone number under `opts`, ignoring the context rule. */
export function validPhone(candidate: string, opts: PhoneOptions = DEFAULT_PHONE_OPTIONS): boolean {
  let m = memo.get(opts);
  if (!m) memo.set(opts, (m = new Map()));
  const hit = m.get(candidate);
  if (hit !== undefined) return hit;
  const ok = check(candidate, opts);
  if (m.size >= 4096) m.clear();
  m.set(candidate, ok);
  return ok;
}

function check(candidate: string, opts: PhoneOptions): boolean {
  if (DATE_LIKE.test(candidate) || IPV4_LIKE.test(candidate) || ZIP4.test(candidate)) return false;
  const intl = candidate.startsWith("+") ? candidate : candidate.startsWith("00") ? `+${candidate.slice(2)}` : undefined;
  const digits = (intl ?? candidate).replace(/\D/g, "");
  if (digits.length < 8 || digits.length > 15) return false;
  if (intl) {
    const p = parsePhoneNumberFromString(intl);
    // Valid for its country; with an explicit `+`, a number of a possible length for that country
    // is enough (ranges reserved for fiction, e.g. UK +44 7700 900123, are still someone's format).
    return p !== undefined && (p.isValid() || (candidate[0] === "+" && p.isPossible()));
  }
  if (/\s{2,}/.test(candidate)) return false;
  if (/^\d+\.\d+$/.test(candidate)) return false; // a decimal number (49285.679)
  if (/[^\d]\d$/.test(candidate)) return false; // ends in a one-digit group: an IMEI / check digit, not a phone
  for (const region of opts.regions) {
    // Germans write national numbers with the trunk 0; Brazilians with the area code in parentheses
    // (both plans accept almost any digit run otherwise: SKUs, amounts).
    if (region === "DE" && !/^\(?0/.test(candidate)) continue;
    if (region === "BR" && candidate[0] !== "(") continue;
    // A US number needs 10 digits (11 with the trunk 1); a bare run is handled by the context rule.
    if (region === "US" && !(digits.length === 10 || (digits.length === 11 && digits[0] === "1"))) continue;
    if (!mayBeValidNational(digits, region)) continue; // cannot be valid there: no parse (phone-plan.ts)
    if (parsePhoneNumberFromString(candidate, region)?.isValid()) return true;
  }
  return false;
}

/** A bare digit run, or one grouped like a thousands-separated amount (77.261.175): ambiguous. */
const isBare = (s: string) => !/\D/.test(s) || /^\d{1,3}(?:[.,]\d{3})+$/.test(s);

export function detectPhones(text: string, opts: PhoneOptions = DEFAULT_PHONE_OPTIONS): Finding[] {
  return collect(PHONE, text, "phone", (m) => {
    let s = m[0];
    let start = m.index;
    // Unbalanced parentheses: "(call 0912…" — drop a leading "(" with no ")".
    if (s.startsWith("(") && !s.includes(")")) {
      s = s.slice(1);
      start++;
    }
    if (!validPhone(s, opts)) return false;
    const national = !(s.startsWith("+") || s.startsWith("00"));
    if (national && opts.context !== "never" && (opts.context === "always" || isBare(s))) {
      const vnBare = opts.context === "bare" && s[0] === "0" && opts.regions.includes("VN") && parsePhoneNumberFromString(s, "VN")?.isValid();
      if (!vnBare && !CONTEXT.test(text.slice(Math.max(0, start - 48), start))) return false;
    }
    let end = start + s.length;
    const ext = EXT.exec(text.slice(end, end + 20));
    if (ext) end += ext[0].length;
    return { start, end };
  });
}
