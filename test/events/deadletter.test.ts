import { describe, expect, test } from "bun:test";
import {
  DEADLETTER_EVENT_TYPE,
  DEADLETTER_MAX_RAW_BYTES,
  deadLetterEvent,
  deadLetterRecord,
  decodeRecord,
  type DeadLetterPayload,
} from "../../src/events/deadletter.ts";
import { envelopeErrors } from "../../src/events/envelope.ts";
import { testEvent } from "./event-log.contract.ts";

const source = { stream: "requests" as const, partition: 2, offset: 41 };
const payloadOf = (raw: Uint8Array | string | null, key?: string) =>
  deadLetterEvent({ reason: "r", source, raw, ...(key ? { key } : {}) }).payload as unknown as DeadLetterPayload;

describe("decodeRecord", () => {
  test("a valid envelope decodes (bytes or text)", () => {
    const event = testEvent("acme", 1);
    expect(decodeRecord(JSON.stringify(event))).toEqual({ ok: true, event });
    expect(decodeRecord(Buffer.from(JSON.stringify(event)))).toEqual({ ok: true, event });
  });

  test.each([
    ["no value", null, /empty/],
    ["not UTF-8", new Uint8Array([0xff, 0xfe, 0x7b]), /UTF-8/],
    ["not JSON", "{nope", /not JSON/],
    ["JSON but no envelope", JSON.stringify({ tenant: "acme" }), /not a valid event envelope: \/id/],
    ["an envelope with a bad field", JSON.stringify({ ...testEvent("acme", 1), v: 0 }), /\/v/],
  ])("%s is refused with a reason", (_, raw, reason) => {
    const decoded = decodeRecord(raw);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).toMatch(reason);
  });
});

describe("deadLetterEvent", () => {
  test("is a valid envelope of type deadletter.recorded with reason, source and raw", () => {
    const ev = deadLetterEvent({ reason: "value is not JSON", source, raw: '{"tenant":"acme",', key: "acme", now: new Date(0) });
    expect(envelopeErrors(ev)).toEqual([]);
    expect(ev.type).toBe(DEADLETTER_EVENT_TYPE);
    expect(ev.time).toBe("1970-01-01T00:00:00.000Z");
    expect(ev.tenant).toBe("unknown"); // not parseable: no tenant to recover
    expect(ev.payload).toEqual({ reason: "value is not JSON", source, key: "acme", raw: '{"tenant":"acme",', rawEncoding: "utf8", rawBytes: 17, truncated: false });
  });

  test("keeps the tenant of a JSON record that is not an envelope", () => {
    expect(deadLetterEvent({ reason: "r", source, raw: JSON.stringify({ tenant: "acme" }) }).tenant).toBe("acme");
  });

  test("bytes that are not UTF-8 are kept as base64", () => {
    const p = payloadOf(new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
    expect([p.rawEncoding, p.raw, p.rawBytes]).toEqual(["base64", "3q2+7w==", 4]);
  });

  test("a huge raw value is cut, and says so", () => {
    const p = payloadOf("x".repeat(DEADLETTER_MAX_RAW_BYTES + 10));
    expect([p.raw.length, p.rawBytes, p.truncated]).toEqual([DEADLETTER_MAX_RAW_BYTES, DEADLETTER_MAX_RAW_BYTES + 10, true]);
  });

  test("a missing value is recorded as empty", () => {
    expect(payloadOf(null)).toMatchObject({ raw: "", rawBytes: 0 });
  });

  test("deadLetterRecord keys by the original key, else by the source partition", () => {
    expect(deadLetterRecord({ reason: "r", source, raw: "x", key: "acme" }).key).toBe("acme");
    expect(deadLetterRecord({ reason: "r", source, raw: "x", key: null }).key).toBe("requests/2");
  });
});
