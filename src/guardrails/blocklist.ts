/**
 * Per-tenant blocklists: terms (literal, case-insensitive, whole words) and operator regular
 * expressions. Regexes run on `re2js` (a pure-JS port of RE2): linear time in the text, no
 * backreferences or lookaround, so an operator's pattern cannot stall the event loop.
 * Patterns RE2 rejects, or that match the empty string, are refused at config time.
 */
import { RE2JS } from "re2js";

export type RuleDirection = "input" | "output" | "both";
export interface BlocklistRule {
  pattern: string;
  kind: "term" | "regex";
  action: "block" | "redact";
  direction: RuleDirection;
}

/** A compiled rule: `find` returns `[start, end)` spans in order. */
export interface CompiledRule {
  index: number;
  action: "block" | "redact";
  input: boolean;
  output: boolean;
  kind: "term" | "regex";
  /** Longest text a term can match (terms only; regexes: unbounded). */
  maxLength: number;
  find(text: string): Array<[number, number]>;
  /** Terms: length of the longest end of `text` that could still grow into the term (stream hold-back). */
  partial?(text: string): number;
}

export const MAX_PATTERN_LENGTH = 1000;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Why a rule's pattern is unusable, or undefined when it compiles. */
export function ruleProblem(rule: BlocklistRule): string | undefined {
  if (rule.pattern.length === 0) return "the pattern is empty";
  if (rule.pattern.length > MAX_PATTERN_LENGTH) return `the pattern is longer than ${MAX_PATTERN_LENGTH} characters`;
  if (rule.kind === "term") return rule.pattern.trim() ? undefined : "the term is blank";
  try {
    const re = RE2JS.compile(rule.pattern);
    if (re.matches("")) return "the pattern matches the empty string";
    if (re.matcher("").find()) return "the pattern matches the empty string";
  } catch (err) {
    // RE2 refuses backreferences, lookaround and huge repeats: the constructs that make backtracking engines stall.
    return `not a linear-time (RE2) regular expression: ${(err as Error).message}`;
  }
  return undefined;
}

export function compileRule(rule: BlocklistRule, index: number): CompiledRule {
  const base = { index, action: rule.action, input: rule.direction !== "output", output: rule.direction !== "input", kind: rule.kind };
  if (rule.kind === "term") {
    const term = rule.pattern.trim();
    // A literal: the native engine cannot backtrack on it. Whole words where the term starts/ends with one.
    const pre = /^[\p{L}\p{N}_]/u.test(term) ? "(?<![\\p{L}\\p{N}_])" : "";
    const post = /[\p{L}\p{N}_]$/u.test(term) ? "(?![\\p{L}\\p{N}_])" : "";
    const re = new RegExp(`${pre}${escape(term).replace(/\s+/g, "\\s+")}${post}`, "giu");
    const lower = term.toLowerCase().replace(/\s+/g, " ");
    return {
      ...base,
      maxLength: term.length * 4,
      partial(text) {
        for (let k = Math.min(text.length, lower.length * 4); k > 0; k--) {
          const end = text.slice(-k).toLowerCase().replace(/\s+/g, " ");
          if (end.length < lower.length && lower.startsWith(end)) return k;
        }
        return 0;
      },
      find(text) {
        const out: Array<[number, number]> = [];
        re.lastIndex = 0;
        for (let m = re.exec(text); m; m = re.exec(text)) out.push([m.index, m.index + m[0].length]);
        return out;
      },
    };
  }
  const re = RE2JS.compile(rule.pattern);
  return {
    ...base,
    maxLength: Infinity,
    find(text) {
      const out: Array<[number, number]> = [];
      const m = re.matcher(text);
      while (m.find()) {
        if (m.end() > m.start()) out.push([m.start(), m.end()]);
      }
      return out;
    },
  };
}
