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
