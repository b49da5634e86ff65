/**
 * Vietnamese identity numbers: CMND (9 digits) and CCCD (12 digits: province code 001–096,
 * then a century/gender digit, then the birth year). Both only near a context word, since
 * bare 9- or 12-digit numbers are everywhere (orders, invoices, tracking).
 */
import { collect, type Finding } from "./types.ts";

const NUMBER = /(?<![\d\-./])(\d{9}|\d{12})(?![\d]|[\-./]\d)/g;
const CONTEXT = /(cmnd|cccd|cmt|căn cước|can cuoc|chứng minh|chung minh|định danh|dinh danh|id card|national id|citizen id|identity (?:card|number)|giấy tờ tùy thân)/i;
const BEFORE = 48;
const AFTER = 24;

/** CCCD: province 001–096 and a century/gender digit 0–3 (born 1900–2099). */
export function validCccd(d: string): boolean {
  const province = Number(d.slice(0, 3));
  return province >= 1 && province <= 96 && d.charCodeAt(3) - 48 <= 3;
}

export function detectVnIds(text: string): Finding[] {
  return collect(NUMBER, text, "vn_id", (m) => {
    if (m[0].length === 12 && !validCccd(m[0])) return false;
    const around = text.slice(Math.max(0, m.index - BEFORE), m.index) + " " + text.slice(m.index + m[0].length, m.index + m[0].length + AFTER);
    return CONTEXT.test(around);
  });
}
