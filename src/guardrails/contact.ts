/**
 * Contact data: e-mail addresses and phone numbers. Phones are validated with
 * `libphonenumber-js` (E.164 international forms, US and Vietnamese numbers), not by counting digits.
 */
import { parsePhoneNumberFromString } from "libphonenumber-js/max";
import { collect, type Finding, isWordChar } from "./types.ts";

const LOCAL = /[A-Za-z0-9._%+\-]/;
const DOMAIN = /[A-Za-z0-9.\-]/;
const EMAIL_SHAPE = /^[A-Za-z0-9](?:[A-Za-z0-9._%+\-]{0,63})@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}$/;

/** E-mails: expand around each `@` (linear: no regex scans from every position). */
export function detectEmails(text: string): Finding[] {
  const out: Finding[] = [];
  let lastEnd = 0;
  for (let at = text.indexOf("@"); at !== -1; at = text.indexOf("@", at + 1)) {
    let s = at;
    while (s > lastEnd && at - s < 64 && LOCAL.test(text[s - 1]!)) s--;
    let e = at + 1;
    while (e < text.length && e - at < 255 && DOMAIN.test(text[e]!)) e++;
    while (e > at + 1 && /[.\-]/.test(text[e - 1]!)) e--; // a sentence's full stop is not part of it
    while (s < at && /[._%+\-]/.test(text[s]!)) s++;
    if (s === at || e === at + 1 || isWordChar(text, s - 1)) continue;
    if (EMAIL_SHAPE.test(text.slice(s, e))) {
      out.push({ type: "email", start: s, end: e });
      lastEnd = e;
    }
  }
  return out;
}

const PHONE = /(?<![\w+.\-/:])(?:\+|00)?\(?\d[\d \-().]{6,18}\d(?![\w]|[.\-/:]\d)/g;
const DATE_LIKE = /\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}/;
const IPV4_LIKE = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const COUNTRIES = ["VN", "US"] as const;

/** A phone number as written, or undefined when no supported numbering plan accepts it. */
export function validPhone(candidate: string): boolean {
  if (DATE_LIKE.test(candidate) || IPV4_LIKE.test(candidate)) return false;
  const digits = candidate.replace(/\D/g, "");
  if (digits.length < 8 || digits.length > 15) return false;
  const intl = candidate.startsWith("+") ? candidate : candidate.startsWith("00") ? `+${candidate.slice(2)}` : undefined;
  if (intl) return parsePhoneNumberFromString(intl)?.isValid() === true;
  if (/\s{2,}/.test(candidate)) return false;
  // Cheap shape checks before the (costly) parse. Vietnamese national numbers start with 0; US
  // numbers need separators: a bare 10-digit run is an order number as often as a phone.
  const vn = digits[0] === "0";
  const us = !vn && /\D/.test(candidate) && (digits.length === 10 || (digits.length === 11 && digits[0] === "1"));
  for (const c of COUNTRIES) {
    if ((c === "VN" && !vn) || (c === "US" && !us)) continue;
    if (parsePhoneNumberFromString(candidate, c)?.isValid()) return true;
  }
  return false;
}

export function detectPhones(text: string): Finding[] {
  return collect(PHONE, text, "phone", (m) => {
    let s = m[0];
    let start = m.index;
    // Unbalanced parentheses: "(call 0912…" — drop a leading "(" with no ")".
    if (s.startsWith("(") && !s.includes(")")) {
      s = s.slice(1);
      start++;
    }
    return validPhone(s) ? { start, end: start + s.length } : false;
  });
}
