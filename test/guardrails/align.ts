/** Aligns the placeholders in a redacted echo back to the spans of the original text (PII evaluation tests). */
const LABEL_TYPE: Record<string, string> = { EMAIL: "email", PHONE: "phone", CARD: "card", IBAN: "iban", SSN: "ssn", IP: "ip", VN_ID: "vn_id", SECRET: "secret" };

/** Spans of the original text that the placeholders in `redacted` replaced (placeholders as wildcards, anchored). */
export function alignPlaceholders(original: string, redacted: string): Array<{ start: number; end: number; type: string }> {
  const parts = redacted.split(/(\[(?:EMAIL|PHONE|CARD|IBAN|SSN|IP|VN_ID|SECRET)_\d+\])/);
  const source = parts.map((p, i) => (i % 2 === 0 ? p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") : "([\\s\\S]+?)")).join("");
  const m = new RegExp(`^${source}$`, "d").exec(original);
  if (!m) throw new Error(`cannot align: ${redacted}`);
  return parts.flatMap((p, i) => (i % 2 === 1 ? [{ start: m.indices![(i + 1) / 2]![0], end: m.indices![(i + 1) / 2]![1], type: LABEL_TYPE[/^\[([A-Z_]+)_\d+\]$/.exec(p)![1]!]! }] : []));
}

