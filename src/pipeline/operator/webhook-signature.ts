/**
 * Webhook signing, Stripe-style — one implementation for the built-in alert destinations
 * (src/alerts/delivery.ts) and operators' plugins (exported by `tollgate/plugin`, used by
 * plugins/webhook-notifier):
 * `x-tollgate-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
 * A receiver recomputes the HMAC over the raw body and refuses timestamps older than its
 * tolerance (replay protection): `verifySignature` is what a receiver runs.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "x-tollgate-signature";

export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${createHmac("sha256", secret).update(`${unixSeconds}.${body}`).digest("hex")}`;
}

export function verifySignature(secret: string, body: string, header: string | null, opts: { nowSeconds?: number; toleranceSeconds?: number } = {}): boolean {
  const m = header ? /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header) : null;
  if (!m) return false;
  const t = Number(m[1]);
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (opts.toleranceSeconds ?? 300)) return false;
  const want = Buffer.from(createHmac("sha256", secret).update(`${t}.${body}`).digest("hex"));
  const got = Buffer.from(m[2]!);
  return want.length === got.length && timingSafeEqual(want, got);
}
