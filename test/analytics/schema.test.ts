/** toUsageRow: the pure mapping from a request.completed event to a usage_events row. */
import { expect, test } from "bun:test";
import { makeEvent } from "../../src/events/envelope.ts";
import { checkIdentifier, toClickHouseTime, toUsageRow } from "../../src/analytics/schema.ts";

test("maps a request.completed event, cost to integer micros", () => {
  const e = makeEvent({
    type: "request.completed", tenant: "acme", requestId: "r1", time: new Date("2025-03-01T10:00:00.123Z"),
    payload: { status: "error", errorCode: "rate_limited", requestedModel: "smart", provider: "openai", model: "gpt-4o", cached: false, inputTokens: 10, outputTokens: 5, cachedTokens: 2, costUsd: 0.0034, latencyMs: 12.5, ttftMs: null, service: "web", user: null, taskType: "chat", keyPrefix: "tg_ab12" },
  });
  expect(toUsageRow(e)).toEqual({
    time: "2025-03-01T10:00:00.123Z", event_id: e.id, request_id: "r1", tenant: "acme", service: "web", user: "", key_prefix: "tg_ab12",
    task_type: "chat", provider: "openai", model: "gpt-4o", route: "smart", input_tokens: 10, output_tokens: 5, cached_tokens: 2,
    cost_nanos: 3_400_000, saved_nanos: 0, cost_micros: 3400, saved_micros: 0, latency_ms: 12.5, ttft_ms: null, cached: 0, status: "error", error_code: "rate_limited", attempts: 1,
    cache_write_tokens: 0, reasoning_tokens: 0, price_source: "",
    // the request explorer's columns (src/analytics/explorer-columns.ts)
    key_id: "", http_status: 0, config_version: 0, cache_key_hash: "", cache_result: "", route_level: "", route_override: "", guardrail_action: "", guardrail_detections: 0,
  });
  const priced = toUsageRow(makeEvent({ type: "request.completed", tenant: "t", payload: { cacheWriteTokens: 7, reasoningTokens: 9, priceSource: "catalog:@pydantic/genai-prices@0.1.8" } }));
  expect(priced).toMatchObject({ cache_write_tokens: 7, reasoning_tokens: 9, price_source: "catalog:@pydantic/genai-prices@0.1.8" });
});

test("other event types map to nothing; garbage fields become zeros", () => {
  expect(toUsageRow(makeEvent({ type: "cache.hit", tenant: "t", payload: {} }))).toBeUndefined();
  const row = toUsageRow(makeEvent({ type: "request.completed", tenant: "t", payload: { inputTokens: -3, costUsd: "1", cached: true, attempts: [{}, {}] } }));
  expect(row?.input_tokens).toBe(0);
  expect(row?.cost_micros).toBe(0);
  expect(row?.cached).toBe(1);
  expect(row?.attempts).toBe(2);
  expect(row?.status).toBe("ok");
  expect(toUsageRow(makeEvent({ type: "request.completed", tenant: "t", payload: { costUsd: 0.000045 } }))?.cost_micros).toBe(45);
  expect(toUsageRow(makeEvent({ type: "request.completed", tenant: "t", payload: { cached: true, costUsd: 0, savedUsd: 0.0021 } }))?.saved_micros).toBe(2100);
});

test("v2 events carry integer nanos (the authority); v1 events' costUsd converts exactly", () => {
  const v2 = toUsageRow(makeEvent({ type: "request.completed", v: 2, tenant: "t", payload: { costNanos: 13_500, costUsd: 0.0000135, savedNanos: 600, savedUsd: 6e-7 } }));
  expect(v2).toMatchObject({ cost_nanos: 13_500, cost_micros: 14, saved_nanos: 600, saved_micros: 1 });
  // A v1 event (micro-rounded float) and garbage nanos fall back to costUsd.
  expect(toUsageRow(makeEvent({ type: "request.completed", tenant: "t", payload: { costUsd: 0.000014 } }))).toMatchObject({ cost_nanos: 14_000, cost_micros: 14 });
  expect(toUsageRow(makeEvent({ type: "request.completed", tenant: "t", payload: { costNanos: -5, costUsd: 0.0034 } }))).toMatchObject({ cost_nanos: 3_400_000 });
  expect(toUsageRow(makeEvent({ type: "request.completed", tenant: "t", payload: { costNanos: 1.5 } }))).toMatchObject({ cost_nanos: 0 });
});

test("times and identifiers for ClickHouse", () => {
  expect(toClickHouseTime("2025-03-01T10:00:00.123Z")).toBe("2025-03-01 10:00:00.123");
  expect(() => checkIdentifier("x; DROP")).toThrow();
  expect(checkIdentifier("tollgate_1")).toBe("tollgate_1");
});
