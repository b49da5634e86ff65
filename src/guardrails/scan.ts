/**
 * Scan a text with every enabled detector: findings sorted, overlaps resolved (the earlier,
 * then the longer, then the stronger type wins), allow-listed values dropped.
 */
import { detectEmails } from "./contact.ts";
import { detectPhones, type PhoneOptions } from "./phone.ts";
import { detectCards, detectIbans, detectSsns } from "./financial.ts";
import { detectIps } from "./network.ts";
import { detectSecrets } from "./secrets.ts";
import type { Detector, Finding, PiiType } from "./types.ts";
import { detectVnIds } from "./vn-id.ts";

export const DETECTORS: Record<PiiType, Detector> = {
  secret: detectSecrets,
  email: detectEmails,
  iban: detectIbans,
  card: detectCards,
  vn_id: detectVnIds,
  ssn: detectSsns,
  ip: detectIps,
  phone: (text) => detectPhones(text),
};

/** Tie-break between overlapping findings of the same start and length. */
const RANK: Record<PiiType, number> = { secret: 0, email: 1, iban: 2, card: 3, vn_id: 4, ssn: 5, ip: 6, phone: 7 };

export interface ScanOptions {
  /** Types to look for. */
  types: ReadonlySet<PiiType>;
  /** Exact values never reported (e.g. the company's support address), compared case-insensitively. */
  allow?: ReadonlySet<string>;
  /** Phone regions and context rule (default: DEFAULT_PHONE_OPTIONS). */
  phone?: PhoneOptions;
}

/** All findings in `text`, non-overlapping, in order. */
export function scanText(text: string, opts: ScanOptions): Finding[] {
  if (text.length === 0 || opts.types.size === 0) return [];
  const all: Finding[] = [];
  for (const t of opts.types) all.push(...(t === "phone" && opts.phone ? detectPhones(text, opts.phone) : DETECTORS[t](text)));
  return resolveOverlaps(all).filter((f) => !opts.allow?.size || !opts.allow.has(text.slice(f.start, f.end).toLowerCase()));
}

/** Keep non-overlapping findings: the earliest start, then the longest, then the strongest type. */
export function resolveOverlaps(findings: Finding[]): Finding[] {
  findings.sort((a, b) => a.start - b.start || b.end - b.start - (a.end - a.start) || RANK[a.type] - RANK[b.type]);
  const out: Finding[] = [];
  let end = -1;
  for (const f of findings) {
    if (f.start < end) {
      // A later, longer finding that contains this one's predecessor replaces it (e.g. a card over a phone).
      const prev = out[out.length - 1]!;
      if (f.end - f.start > prev.end - prev.start && RANK[f.type] < RANK[prev.type]) {
        out[out.length - 1] = f;
        end = f.end;
      }
      continue;
    }
    out.push(f);
    end = f.end;
  }
  return out;
}
