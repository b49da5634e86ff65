/**
 * One request's redaction state: typed, numbered placeholders (`[EMAIL_1]`), the same value
 * always getting the same placeholder within the request, and the reverse map for `restore`.
 * The map lives in this object only (the request's memory): never in events, logs or caches.
 */
import type { GuardrailPolicy } from "./config.ts";
import { scanText } from "./scan.ts";
import type { Finding, PiiType } from "./types.ts";

export type Direction = "input" | "output";

/** Counts per type (PII types, and `blocklist` for content rules). */
export type Counts = Partial<Record<PiiType | "blocklist", number>>;

const LABEL: Record<PiiType, string> = { email: "EMAIL", phone: "PHONE", card: "CARD", iban: "IBAN", ssn: "SSN", ip: "IP", vn_id: "VN_ID", secret: "SECRET" };
/** A placeholder as it appears in text. */
export const PLACEHOLDER = /\[(EMAIL|PHONE|CARD|IBAN|SSN|IP|VN_ID|SECRET|BLOCKED)_(\d{1,6})\]/g;
/** Longest placeholder text (for stream hold-back). */
export const MAX_PLACEHOLDER_LENGTH = "[BLOCKED_999999]".length;

/** What a scan found: PII findings and content-rule matches. */
export interface Found {
  pii: Finding[];
  rules: Array<{ start: number; end: number; block: boolean }>;
}

export interface TextResult {
  text: string;
  changed: boolean;
}

export class Redactor {
  private readonly byValue = new Map<string, string>();
  private readonly byPlaceholder = new Map<string, string>();
  private readonly next = new Map<string, number>();
  /** What was found, per direction and type. */
  readonly detected: Record<Direction, Counts> = { input: {}, output: {} };
  readonly redacted: Record<Direction, Counts> = { input: {}, output: {} };
  readonly blocked: Record<Direction, Set<PiiType | "blocklist">> = { input: new Set(), output: new Set() };
  /** True once a placeholder of a `restore` type was issued: outputs must be restored. */
  restoring = false;

  constructor(readonly policy: GuardrailPolicy) {}

  /** The placeholder for a value (the same one for the same value in this request). */
  placeholder(label: string, value: string, restorable: boolean): string {
    const key = `${label}\u0000${value}`;
    let ph = this.byValue.get(key);
    if (!ph) {
      const n = (this.next.get(label) ?? 0) + 1;
      this.next.set(label, n);
      ph = `[${label}_${n}]`;
      this.byValue.set(key, ph);
    }
    if (restorable) {
      this.byPlaceholder.set(ph, value);
      this.restoring = true;
    }
    return ph;
  }

  /** Every PII finding and content-rule match in a text, for one direction. */
  findAll(text: string, dir: Direction): Found {
    const pii = scanText(text, { types: this.policy.scanTypes, allow: this.policy.allow, phone: this.policy.phone });
    const rules: Found["rules"] = [];
    for (const rule of this.policy.rules) {
      if (!(dir === "input" ? rule.input : rule.output)) continue;
      for (const [start, end] of rule.find(text)) rules.push({ start, end, block: rule.action === "block" });
    }
    return { pii, rules };
  }

  /**
   * Apply the policy to what was found in `text[from, to)` (findings outside are ignored):
   * redact (placeholders), note blocks, count. Returns the new text of that range.
   */
  applyRange(text: string, found: Found, dir: Direction, from = 0, to = text.length): string {
    const edits: Array<{ start: number; end: number; with: string }> = [];
    for (const f of found.pii) {
      if (f.start < from || f.end > to) continue;
      const action = this.policy.actions.get(f.type)!;
      bump(this.detected[dir], f.type);
      if (action === "block") this.blocked[dir].add(f.type);
      else if (action === "redact" || (action === "restore" && dir === "input")) {
        edits.push({ start: f.start, end: f.end, with: this.placeholder(LABEL[f.type], text.slice(f.start, f.end), action === "restore") });
        bump(this.redacted[dir], f.type);
      }
    }
    for (const r of found.rules) {
      if (r.start < from || r.end > to) continue;
      bump(this.detected[dir], "blocklist");
      if (r.block) this.blocked[dir].add("blocklist");
      else if (!edits.some((e) => r.start < e.end && e.start < r.end)) {
        edits.push({ start: r.start, end: r.end, with: this.placeholder("BLOCKED", text.slice(r.start, r.end).toLowerCase(), false) });
        bump(this.redacted[dir], "blocklist");
      }
    }
    if (edits.length === 0) return from === 0 && to === text.length ? text : text.slice(from, to);
    edits.sort((a, b) => a.start - b.start);
    let out = "";
    let at = from;
    for (const e of edits) {
      if (e.start < at) continue;
      out += text.slice(at, e.start) + e.with;
      at = e.end;
    }
    return out + text.slice(at, to);
  }

  /** Scan one whole text and apply the policy. */
  process(text: string, dir: Direction): TextResult {
    const out = this.applyRange(text, this.findAll(text, dir), dir);
    return { text: out, changed: out !== text };
  }

  /** Put the original values back for placeholders of `restore` types. */
  restore(text: string, json = false): string {
    if (this.byPlaceholder.size === 0 || !text.includes("[")) return text;
    return text.replace(PLACEHOLDER, (ph) => {
      const v = this.byPlaceholder.get(ph);
      if (v === undefined) return ph;
      return json ? JSON.stringify(v).slice(1, -1) : v;
    });
  }

  /** Output path: scan what the model produced, then restore the placeholders (JSON-escaped inside tool arguments). */
  processOutput(text: string, json = false): string {
    return this.restore(this.process(text, "output").text, json);
  }
}

function bump(c: Counts, k: PiiType | "blocklist"): void {
  c[k] = (c[k] ?? 0) + 1;
}
