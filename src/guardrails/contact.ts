/**
 * Contact data: e-mail addresses (here) and phone numbers (phone.ts, re-exported).
 */
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

// Phone numbers live in phone.ts (regions, extensions, the context rule); re-exported here.
export { detectPhones, validPhone } from "./phone.ts";
