/**
 * Financial identifiers: payment cards (Luhn + IIN ranges + lengths), IBANs (mod-97 and the
 * country's length, via `ibantools`) and US SSNs (area / group / serial rules).
 */
import { getCountrySpecifications } from "ibantools";
import { collect, type Finding } from "./types.ts";

/** Luhn checksum over a digit string. */
export function luhnOk(digits: string): boolean {
  let sum = 0;
  for (let i = digits.length - 1, alt = false; i >= 0; i--, alt = !alt) {
    let d = digits.charCodeAt(i) - 48;
    if (alt) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

const ANY = [12, 13, 14, 15, 16, 17, 18, 19] as const;
const L16_19 = [16, 17, 18, 19] as const;
/**
 * Card schemes' IIN ranges: [low prefix, high prefix, allowed lengths], prefixes compared at their
 * own length. A card is a Luhn-valid number whose prefix and length one of these accepts.
 */
const IIN: ReadonlyArray<[string, string, readonly number[]]> = [
  ["4", "4", [13, 16, 19]], // Visa
  ["51", "55", [16]], // Mastercard
  ["2221", "2720", [16]], // Mastercard 2-series
  ["34", "34", [15]], // Amex
  ["37", "37", [15]],
  ["6011", "6011", L16_19], // Discover
  ["644", "649", L16_19],
  ["65", "65", L16_19],
  ["35", "35", L16_19], // JCB (all of 35)
  ["1800", "1800", [15]], // JCB legacy 15-digit
  ["2131", "2131", [15]],
  ["300", "305", [14, 15, 16, 17, 18, 19]], // Diners
  ["3095", "3095", [14, 15, 16, 17, 18, 19]],
  ["36", "36", [14, 15, 16, 17, 18, 19]],
  ["38", "39", [14, 15, 16, 17, 18, 19]],
  ["62", "62", L16_19], // UnionPay
  ["81", "81", L16_19], // UnionPay (81 series)
  ["2200", "2204", L16_19], // Mir
  ["9704", "9704", [16, 19]], // Vietnam NAPAS
  ["50", "50", ANY], // Maestro
  ["56", "59", ANY],
  ["60", "69", ANY],
];

/** True when the number's prefix and length belong to a known card scheme. */
export function knownIin(digits: string): boolean {
  const first = digits.charCodeAt(0) - 48;
  if (first === 0 || first === 7 || digits.length < 12) return false; // no scheme starts with 0 or 7
  return IIN_BY_FIRST[first]!.some(([lo, hi, lengths]) => {
    if (!lengths.includes(digits.length)) return false;
    const p = digits.slice(0, lo.length);
    return p >= lo && p <= hi;
  });
}
const IIN_BY_FIRST = Array.from({ length: 10 }, (_, d) => IIN.filter(([lo]) => lo.charCodeAt(0) - 48 === d));

const CARD = /(?<![\d.,\-/])\d(?:[ -]?\d){11,18}(?![\d]|[.,\-/]\d)/g;

export function detectCards(text: string): Finding[] {
  return collect(CARD, text, "card", (m) => {
    // One pass: one kind of separator at most, and separated groups of ≥ 3 digits (4-4-4-4,
    // 4-6-5, …; an IMEI's 2-6-6-1 is not a card).
    const s = m[0];
    let sep = 0;
    let group = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 48 && c <= 57) {
        group++;
        continue;
      }
      if (!sep) sep = c;
      else if (c !== sep) return false;
      if (group < 3) return false;
      group = 0;
    }
    if (sep && group < 3) return false;
    const d = sep ? s.replaceAll(String.fromCharCode(sep), "") : s;
    return knownIin(d) && luhnOk(d);
  });
}

const SPECS = getCountrySpecifications();

/** The country's length and BBAN shape (from ibantools' registry), and the ISO 13616 mod-97 check. */
export function ibanOk(iban: string): boolean {
  const compact = iban.toUpperCase();
  const spec = SPECS[compact.slice(0, 2)];
  if (!spec?.chars || compact.length !== spec.chars) return false;
  if (spec.bban_regexp && !new RegExp(spec.bban_regexp).test(compact.slice(4))) return false;
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let r = 0;
  for (const ch of rearranged) {
    const c = ch.charCodeAt(0);
    if (c >= 48 && c <= 57) r = (r * 10 + (c - 48)) % 97;
    else r = (r * 100 + (c - 55)) % 97;
  }
  return r === 1;
}
/**
 * Case-insensitive (people paste IBANs in lower case too). No lookbehind in the pattern: the word
 * boundary before the country letters is checked on each match instead, which keeps the scan of
 * ordinary prose (letters everywhere) about twice as fast as a lookbehind-first pattern.
 */
const IBAN = /[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]){10,32}/g;

export function detectIbans(text: string): Finding[] {
  return collect(IBAN, text, "iban", (m) => {
    if (isAlnum(text.charCodeAt(m.index - 1))) return false;
    const len = SPECS[m[0].slice(0, 2).toUpperCase()]?.chars;
    if (!len) return false;
    // Take exactly the country's number of characters; the next one must not glue on.
    let n = 0;
    let end = m.index;
    for (const ch of m[0]) {
      end++;
      if (ch !== " " && ch !== "-") n++;
      if (n === len) break;
    }
    if (n !== len || isAlnum(text.charCodeAt(end))) return false;
    const compact = text.slice(m.index, end).replace(/[ -]/g, "");
    return ibanOk(compact) ? { start: m.index, end } : false;
  });
}

/** ASCII letter or digit (NaN, out of range, is not). */
function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

const SSN = /(?<![\d\-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![\d]|-\d)/g;
const SSN_CONTEXT = /\b(ssn|social security|soc\.? sec\.?|taxpayer id|tin)\b/i;

/** US SSN: area not 000, 666 or 900–999; group not 00; serial not 0000. Bare 9 digits only near "SSN". */
export function validSsn(area: string, group: string, serial: string): boolean {
  const a = Number(area);
  return a !== 0 && a !== 666 && a < 900 && group !== "00" && serial !== "0000";
}

export function detectSsns(text: string): Finding[] {
  return collect(SSN, text, "ssn", (m) => {
    if (!validSsn(m[1]!, m[3]!, m[4]!)) return false;
    if (m[2] === " " && !SSN_CONTEXT.test(text.slice(Math.max(0, m.index - 40), m.index))) return false;
    if (m[2] === "") return SSN_CONTEXT.test(text.slice(Math.max(0, m.index - 40), m.index));
    return true;
  });
}
