/**
 * Alert deliveries: the body for each destination kind, its signature, one attempt.
 *
 * - `webhook`: `{ id, type, alert: {...}, time }` as JSON, signed like plugins/webhook-notifier:
 *   `x-tollgate-signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`; the delivery id
 *   (`x-tollgate-delivery`, the same on every retry) lets a receiver drop a repeat.
 * - `slack`: a Slack incoming-webhook payload (`text` + `blocks`), signed too when a secret is set.
 */
import { SIGNATURE_HEADER, signatureHeader } from "../pipeline/operator/webhook-signature.ts";
import type { EventEnvelope } from "../events/envelope.ts";
import type { AlertPayload } from "./book.ts";

export { SIGNATURE_HEADER } from "../pipeline/operator/webhook-signature.ts";
export const DELIVERY_HEADER = "x-tollgate-delivery";

export interface Destination {
  id: string;
  kind: "webhook" | "slack";
  url: string;
  /** The signing secret (decrypted), if any. */
  secret?: string;
}

/** The signer is shared with operators' plugins (`tollgate/plugin`): one scheme for every webhook. */
export { signatureHeader, verifySignature } from "../pipeline/operator/webhook-signature.ts";

const UNITS: Record<string, string> = { pct: "%", ms: " ms", usd: " USD", count: "", days: " days", state: "" };

/** One line a human reads: `FIRING openai-errors [openai]: 31.2% ≥ 10% over 300 s`. */
export function summary(type: string, p: AlertPayload): string {
  const state = type === "alert.fired" ? "FIRING" : "RESOLVED";
  const u = UNITS[p.unit] ?? "";
  const window = p.windowS ? ` over ${p.windowS} s` : "";
  return `${state} ${p.rule} (${p.ruleKind}) [${p.scope}]: ${p.value}${u} vs ${p.threshold}${u}${window}`;
}

/** The JSON body for a destination (a pure function of the alert event). */
export function deliveryBody(dest: Pick<Destination, "kind">, e: EventEnvelope): string {
  const p = e.payload as unknown as AlertPayload;
  if (dest.kind === "slack") {
    const text = summary(e.type, p);
    return JSON.stringify({
      text,
      blocks: [
        { type: "section", text: { type: "mrkdwn", text: `*${text}*` } },
        { type: "context", elements: [{ type: "mrkdwn", text: `episode ${p.episode} · ${e.time} · tenant ${e.tenant} · runbook: docs/alerts.md#${p.ruleKind.replace(/_/g, "-")}` }] },
      ],
    });
  }
  const { watermark: _w, ...alert } = p;
  return JSON.stringify({ id: e.id, type: e.type, time: e.time, tenant: e.tenant, alert, summary: summary(e.type, p) });
}

/** One POST; resolves to whether the receiver took it (2xx). Never throws. */
export async function deliverOnce(dest: Destination, deliveryId: string, type: string, body: string, attempt: number, fetchFn: typeof fetch = fetch): Promise<{ ok: boolean; status?: number; error?: string }> {
  try {
    const headers: Record<string, string> = { "content-type": "application/json", "x-tollgate-event": type, [DELIVERY_HEADER]: deliveryId, "x-tollgate-attempt": String(attempt) };
    if (dest.secret) headers[SIGNATURE_HEADER] = signatureHeader(dest.secret, body, Math.floor(Date.now() / 1000));
    const res = await fetchFn(dest.url, { method: "POST", headers, body, signal: AbortSignal.timeout(10_000) });
    await res.body?.cancel();
    return { ok: res.ok, status: res.status };
  } catch (err) {
    return { ok: false, error: (err as Error).name === "TimeoutError" ? "timeout" : "unreachable" };
  }
}
