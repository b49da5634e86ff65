/**
 * Issue 22, finding 7: the private-key detector is one pass. 4 MB that repeat the BEGIN marker
 * (each followed by a character that ends a PEM body, and no END marker anywhere) used to rescan
 * the rest of the text for every marker (~16 s); the bound is 300 ms on this machine.
 */
import { describe, expect, test } from "bun:test";
import { detectSecrets } from "../../src/guardrails/secrets.ts";

const MARKER = "-----BEGIN RSA PRIVATE KEY-----";

describe("PEM detection in linear time", () => {
  test("4 MB of repeated BEGIN markers without an END scan within 300 ms, each marker found", () => {
    const unit = `${MARKER}!`;
    const text = unit.repeat(Math.ceil((4 << 20) / unit.length));
    const t0 = performance.now();
    const found = detectSecrets(text).filter((f) => f.type === "secret");
    const ms = performance.now() - t0;
    expect(found.length).toBe(text.length / unit.length);
    expect(found[1]).toEqual({ type: "secret", start: unit.length, end: unit.length + MARKER.length });
    expect(ms).toBeLessThan(300);
  });

  test("4 MB of BEGIN markers with one END at the very end: one pass too", () => {
    const unit = `${MARKER}!`;
    const text = `${unit.repeat(Math.ceil((4 << 20) / unit.length))}-----END RSA PRIVATE KEY-----`;
    const t0 = performance.now();
    const found = detectSecrets(text).filter((f) => f.type === "secret");
    expect(performance.now() - t0).toBeLessThan(300);
    expect(found).toEqual([{ type: "secret", start: 0, end: text.length }]);
  });

  test("ordinary blocks are still found: terminated, unterminated, and two in a row", () => {
    const a = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY-----";
    const b = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n";
    const text = `key: ${a} and ${a}\nlast: ${b}!tail`;
    const found = detectSecrets(text).filter((f) => f.type === "secret").map((f) => text.slice(f.start, f.end));
    expect(found).toEqual([a, a, b]);
  });
});
