/** TypeBox schemas of the analytics routes (query and answers), validated and published in the OpenAPI doc. */
import { Type as T, type TSchema } from "@sinclair/typebox";
import { errorResponses, jsonContent } from "./schemas.ts";

export const UsageQuerySchema = T.Object({
  days: T.Optional(T.String({ description: "1–365 (default 7), ending now" })),
  from: T.Optional(T.String({ description: "ISO-8601 start (with `to`)" })),
  to: T.Optional(T.String({ description: "ISO-8601 end, exclusive (with `from`)" })),
  limit: T.Optional(T.String({ description: "Rows, 1–1000 (default 10)" })),
  interval: T.Optional(T.String({ description: "`hour` or `day` (default: by range)" })),
  tenant: T.Optional(T.String({ description: "One tenant (admin key); a virtual key sees its own" })),
});

export const Metrics = T.Object({
  requests: T.Integer(),
  input_tokens: T.Integer(),
  output_tokens: T.Integer(),
  cached_tokens: T.Integer(),
  cost_nanos: T.Integer({ description: "Exact cost, integer nano-dollars (1 USD = 10^9): the sum of every request's cost rounded half-up to the nano" }),
  cost_micros: T.Integer({ description: "Legacy: cost_nanos rounded half-up to micro-dollars" }),
  cost_usd: T.Number({ description: "cost_nanos / 10^9" }),
  cache_hit_rate: T.Number(),
  error_rate: T.Number(),
  p50_ms: T.Number(),
  p95_ms: T.Number(),
  p99_ms: T.Number(),
});

const Range = { from: T.String(), to: T.String(), tenant: T.Union([T.String(), T.Null()]) };

export const GroupedList = (key: string) =>
  T.Object({ ...Range, object: T.Literal("list"), group_by: T.Literal(key), data: T.Array(T.Intersect([T.Object({ [key]: T.String() }), Metrics])) });

export const CustomerUsage = T.Object({
  ...Range,
  object: T.Literal("usage.customer"),
  user_id: T.String(),
  interval: T.Union([T.Literal("hour"), T.Literal("day")]),
  summary: Metrics,
  timeseries: T.Array(T.Intersect([T.Object({ bucket: T.String() }), Metrics])),
});

/** OpenAPI responses of an analytics route. */
export function usageResponses(ok: TSchema) {
  return {
    200: { description: "Usage", content: jsonContent(ok) },
    ...errorResponses({ 400: "Invalid parameter (`invalid_parameter`)", 401: "Key missing or wrong", 403: "Another tenant (`tenant_forbidden`) or admin API disabled", 503: "Analytics off or not ready (`analytics_disabled`, `analytics_unavailable`)" }),
  };
}
