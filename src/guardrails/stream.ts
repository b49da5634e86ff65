/**
 * Streamed output: scan as text arrives, forward at once everything that can no longer become
 * part of a match, and hold back only the shortest suffix that still could (a partial word,
 * e-mail, key or placeholder; a digit group that may continue a card, phone or IBAN; an open
 * PEM block; the start of a blocklist term). The first token never waits for the stream's end.
 */
import type { Redactor } from "./redact.ts";
import { MAX_PLACEHOLDER_LENGTH } from "./redact.ts";

/** Original text kept before the buffer as left context (context words, word boundaries). */
const CONTEXT = 64;
/** A word longer than this is forwarded in pieces (no key, token or address is this long). */
const MAX_WORD = 1024;
/** The longest card / phone / IBAN with separators, plus slack. */
const MAX_NUMBER_RUN = 48;
/** An open PEM block is held at most this long. */
const MAX_PEM = 16_384;
/** Output regex rules see at least the current line, up to this many characters. */
const REGEX_WINDOW = 512;

const NUMBER_RUN = /[+(]?[0-9A-Z][0-9A-Z \-().]*$/;

/** Index in `buf` from which text must be held back (buf.length = nothing held). */
export function holdFrom(buf: string, redactor: Redactor): number {
  let h = buf.length;
  // 1. The trailing word: could still grow into an e-mail, a key, an IP or a placeholder.
  let w = buf.length;
  while (w > 0 && w > buf.length - MAX_WORD && !/\s/.test(buf[w - 1]!)) w--;
  h = Math.min(h, w);
  // 2. A trailing digit group that may continue (cards, phones, IBANs and SSNs have spaces inside).
  const tail = buf.slice(-MAX_NUMBER_RUN);
  const m = NUMBER_RUN.exec(tail);
  if (m && /\d/.test(m[0])) h = Math.min(h, buf.length - tail.length + m.index);
  // 3. An open PEM private key block.
  const begin = buf.lastIndexOf("-----BEGIN");
  if (begin !== -1 && buf.indexOf("-----END", begin) === -1 && buf.length - begin < MAX_PEM) h = Math.min(h, begin);
  // 4. Content rules on output: a term's prefix; a regex's current line.
  for (const rule of redactor.policy.rules) {
    if (!rule.output) continue;
    if (rule.kind === "regex") {
      const nl = buf.lastIndexOf("\n");
      h = Math.min(h, Math.max(nl + 1, buf.length - REGEX_WINDOW));
    } else if (rule.partial) {
      h = Math.min(h, buf.length - rule.partial(buf));
    }
  }
  // 5. A placeholder being written: "[EMA".
  const open = buf.lastIndexOf("[");
  if (open !== -1 && buf.length - open < MAX_PLACEHOLDER_LENGTH && buf.indexOf("]", open) === -1) h = Math.min(h, open);
  return h;
}

/** One streamed text field (a choice's content, or one tool call's arguments). */
export class StreamScanner {
  private buf = "";
  private context = "";
  /** Largest hold-back seen, in characters (for metrics). */
  maxHeld = 0;

  constructor(private readonly redactor: Redactor, private readonly json = false) {}

  /** Feed a delta; returns what may be forwarded now (possibly ""). */
  push(delta: string): string {
    this.buf += delta;
    const out = this.emit(holdFrom(this.buf, this.redactor));
    this.maxHeld = Math.max(this.maxHeld, this.buf.length);
    return out;
  }

  /** The stream ended: forward the rest. */
  flush(): string {
    return this.emit(this.buf.length);
  }

  private emit(hold: number): string {
    if (hold === 0 && this.buf.length > 0) return "";
    const text = this.context + this.buf;
    const from = this.context.length;
    const found = this.redactor.findAll(text, "output");
    // A match crossing the hold point is held whole.
    let to = from + hold;
    for (const f of [...found.pii, ...found.rules]) if (f.start >= from && f.start < to && f.end > to) to = f.start;
    if (to === from) return "";
    const out = this.redactor.restore(this.redactor.applyRange(text, found, "output", from, to), this.json);
    const sent = text.slice(from, to);
    this.context = (this.context + sent).slice(-CONTEXT);
    this.buf = this.buf.slice(to - from);
    return out;
  }
}
