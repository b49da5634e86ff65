import { describe, expect, test } from "bun:test";
import { uuidv7, uuidv7Time } from "../../src/events/uuidv7.ts";

describe("uuidv7", () => {
  test("RFC 9562 layout: version 7, variant 10, the timestamp inside", () => {
    const at = Date.now() + 60_000; // later than any id made so far in this process
    const id = uuidv7(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuidv7Time(id)).toBe(at);
  });

  test("ids made in a tight loop are unique and strictly increasing", () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7());
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
  });

  test("the 62 random bits vary", () => {
    const tails = new Set(Array.from({ length: 1000 }, () => uuidv7().slice(19)));
    expect(tails.size).toBe(1000);
  });
});

describe("makeEvent: id and time per millisecond", () => {
  test("each event carries its own millisecond in the id and the ISO time, whether given or taken", async () => {
    const { makeEvent } = await import("../../src/events/envelope.ts");
    const base = Date.now() + 120_000; // later than any id made so far in this process
    for (const offset of [0, 0, 1, 1, 7, 1000]) {
      const time = new Date(base + offset);
      const e = makeEvent({ type: "x", tenant: "t", payload: {}, time });
      expect(e.time).toBe(time.toISOString());
      expect(uuidv7Time(e.id)).toBe(base + offset);
    }
    const before = Date.now();
    const now = makeEvent({ type: "x", tenant: "t", payload: {} });
    expect(Date.parse(now.time)).toBeGreaterThanOrEqual(before);
    expect(() => makeEvent({ type: "x", tenant: "t", payload: {}, time: new Date(Number.NaN) })).toThrow(RangeError);
  });
});
