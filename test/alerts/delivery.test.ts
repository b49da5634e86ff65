import { describe, expect, test } from "bun:test";
import { makeEvent } from "../../src/events/envelope.ts";
import { deliverOnce, deliveryBody, signatureHeader, summary, verifySignature } from "../../src/alerts/delivery.ts";
import { freePort } from "../helpers/services.ts";

const alert = makeEvent({ type: "alert.fired", tenant: "acme", payload: { rule: "r", ruleKind: "error_rate", scope: "openai", value: 31.2, threshold: 10, unit: "pct", windowS: 300, episode: 2, watermark: [4, 5] } });

describe("alert deliveries", () => {
  test("webhook body: the alert without the log offsets, and a one-line summary", () => {
    const b = JSON.parse(deliveryBody({ kind: "webhook" }, alert));
    expect(b).toMatchObject({ id: alert.id, type: "alert.fired", tenant: "acme", alert: { rule: "r", scope: "openai", value: 31.2, episode: 2 } });
    expect(b.alert.watermark).toBeUndefined();
    expect(b.summary).toBe("FIRING r (error_rate) [openai]: 31.2% vs 10% over 300 s");
    expect(summary("alert.resolved", alert.payload as never)).toStartWith("RESOLVED r");
  });
  test("slack body: Slack's incoming-webhook shape (text + blocks)", () => {
    const b = JSON.parse(deliveryBody({ kind: "slack" }, alert));
    expect(b.text).toContain("FIRING r");
    expect(b.blocks[0]).toEqual({ type: "section", text: { type: "mrkdwn", text: `*${b.text}*` } });
    expect(b.blocks[1].type).toBe("context");
  });
  test("signatures: verified with the secret, refused when tampered, stale or with another secret", () => {
    const body = deliveryBody({ kind: "webhook" }, alert);
    const now = Math.floor(Date.now() / 1000);
    const h = signatureHeader("s3cret-s3cret-s3cret", body, now);
    expect(verifySignature("s3cret-s3cret-s3cret", body, h)).toBe(true);
    expect(verifySignature("s3cret-s3cret-s3cret", body + " ", h)).toBe(false);
    expect(verifySignature("another-secret-value", body, h)).toBe(false);
    expect(verifySignature("s3cret-s3cret-s3cret", body, signatureHeader("s3cret-s3cret-s3cret", body, now - 3600))).toBe(false);
    expect(verifySignature("s3cret-s3cret-s3cret", body, null)).toBe(false);
  });
  test("one attempt: 2xx is ok, 5xx and a closed port are not; never throws", async () => {
    const server = Bun.serve({ port: 0, fetch: (req) => new Response("x", { status: req.headers.get("x-tollgate-attempt") === "1" ? 503 : 204 }) });
    try {
      const dest = { id: "d", kind: "webhook" as const, url: `http://127.0.0.1:${server.port}/` };
      expect(await deliverOnce(dest, "id:d", "alert.fired", "{}", 1)).toEqual({ ok: false, status: 503 });
      expect(await deliverOnce(dest, "id:d", "alert.fired", "{}", 2)).toEqual({ ok: true, status: 204 });
    } finally {
      server.stop(true);
    }
    expect(await deliverOnce({ id: "d", kind: "webhook", url: `http://127.0.0.1:${freePort()}/` }, "id:d", "alert.fired", "{}", 1)).toEqual({ ok: false, error: "unreachable" });
  });
});
