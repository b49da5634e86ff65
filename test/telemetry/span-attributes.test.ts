/** What a request event may put on a span: numbers, booleans, enum-like fields and detector counts — never text. */
import { describe, expect, test } from "bun:test";
import { safeAttributes } from "../../src/telemetry/request-trace.ts";

describe("safeAttributes", () => {
  test("keeps numbers, booleans, safe enum fields and detector counts; drops messages, details and unknown strings", () => {
    const attrs = safeAttributes({
      provider: "p1",
      model: "m",
      attempt: 1,
      retryable: true,
      code: "upstream_error",
      message: "upstream said: my SSN is 123-45-6789",
      detail: "redis down at 10.0.0.1",
      user: "alice@example.com",
      prompt: "hello",
      direction: "input",
      counts: { email: 2, phone: 1 },
      types: ["email", "phone"],
      values: ["alice@example.com"],
      nested: { text: "secret" },
    });
    expect(attrs).toEqual({
      provider: "p1",
      model: "m",
      attempt: 1,
      retryable: true,
      code: "upstream_error",
      direction: "input",
      "counts.email": 2,
      "counts.phone": 1,
      types: ["email", "phone"],
    });
  });

  test("a safe field holding a long string is dropped (ids and enums are short)", () => {
    expect(safeAttributes({ model: "x".repeat(500) })).toEqual({});
    expect(safeAttributes(null)).toEqual({});
    expect(safeAttributes("text")).toEqual({});
  });
});
