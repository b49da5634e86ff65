/**
 * Guardrail detector types and findings. Pure data: no I/O.
 */

/** Every PII / secret type a detector can report. */
export const PII_TYPES = ["email", "phone", "card", "iban", "ssn", "ip", "vn_id", "secret"] as const;
export type PiiType = (typeof PII_TYPES)[number];

/** A match in a text: `[start, end)` in UTF-16 code units. */
export interface Finding {
  type: PiiType;
  start: number;
  end: number;
}

/** A detector family: finds its type(s) in a text. Must run in linear time in the text length. */
export type Detector = (text: string) => Finding[];

/** True when the character at `i` is a letter or digit (so a match there is glued to a word). */
export function isWordChar(text: string, i: number): boolean {
  if (i < 0 || i >= text.length) return false;
  const c = text.charCodeAt(i);
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c > 127 && /\p{L}|\p{N}/u.test(text[i]!);
}

/** Run a global regex over a text and collect `[start, end)` of matches accepted by `accept`. */
export function collect(re: RegExp, text: string, type: PiiType, accept: (m: RegExpExecArray) => boolean | { start: number; end: number }): Finding[] {
  const out: Finding[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const ok = accept(m);
    if (ok === true) out.push({ type, start: m.index, end: m.index + m[0].length });
    else if (ok) out.push({ type, start: ok.start, end: ok.end });
    if (m[0].length === 0) re.lastIndex++;
  }
  return out;
}
