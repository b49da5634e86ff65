/**
 * `GET /api/v1/usage/providers/sla` (admin key): the provider SLA report, per provider and model
 * and per `interval` (hour or day): attempts, availability (with and without client errors),
 * p50/p95/p99 latency and time to first token, error codes with counts, fallbacks caused.
 * Range like the usage API (`days`, or `from` + `to`); optional `provider` and `model`.
 */
import { Elysia } from "elysia";
import { Type as T } from "@sinclair/typebox";
import { providerSla } from "../analytics/sla.ts";
import { GatewayError } from "../pipeline/errors.ts";
import { checkAdmin } from "./admin.ts";
import { ADMIN_SECURITY, errorResponses, jsonContent } from "./schemas.ts";
import { analyticsIn, failure, parseUsageQuery, type UsageRoutesDeps } from "./usage.ts";

const SlaQuery = T.Object(
  {
    days: T.Optional(T.String({ description: "Last N days, 1–365 (default 7); not with `from`/`to`" })),
    from: T.Optional(T.String({ description: "ISO-8601 date or time; with `to`" })),
    to: T.Optional(T.String({ description: "ISO-8601 date or time (exclusive); with `from`" })),
    interval: T.Optional(T.String({ description: "`hour` or `day` (default: hour up to 2 days, else day)" })),
    provider: T.Optional(T.String({ description: "Only this provider" })),
    model: T.Optional(T.String({ description: "Only this model" })),
  },
  { additionalProperties: true },
);

const Pcts = T.Object({ p50: T.Union([T.Number(), T.Null()]), p95: T.Union([T.Number(), T.Null()]), p99: T.Union([T.Number(), T.Null()]) }, { additionalProperties: true });
const SlaRowSchema = T.Object(
  {
    bucket: T.String(),
    provider: T.String(),
    model: T.String(),
    attempts: T.Integer(),
    succeeded: T.Integer(),
    failed: T.Integer(),
    client_errors: T.Integer(),
    availability: T.Union([T.Number(), T.Null()]),
    availability_excluding_client_errors: T.Union([T.Number(), T.Null()]),
    latency_ms: Pcts,
    ttft_ms: Pcts,
    errors: T.Array(T.Object({ code: T.String(), count: T.Integer() })),
    fallbacks_caused: T.Integer(),
  },
  { additionalProperties: true },
);
const SlaReport = T.Object({ object: T.Literal("provider_sla"), from: T.String(), to: T.String(), interval: T.String(), data: T.Array(SlaRowSchema) }, { additionalProperties: true });

const filterValue = (param: string, v: string | undefined) => {
  if (v === undefined || v === "") return undefined;
  if (v.length > 256 || /[\u0000-\u001f]/.test(v)) throw new GatewayError({ status: 400, code: "invalid_parameter", param, message: `\`${param}\` must be at most 256 printable characters` });
  return v;
};

export function slaRoutes(deps: UsageRoutesDeps) {
  return new Elysia({ name: "usage-sla", normalize: false }).get(
    "/api/v1/usage/providers/sla",
    async ({ request, query }) => {
      try {
        checkAdmin(deps, request);
        const q = parseUsageQuery(query as Record<string, string | undefined>, new Date());
        const provider = filterValue("provider", (query as Record<string, string | undefined>).provider);
        const model = filterValue("model", (query as Record<string, string | undefined>).model);
        const a = analyticsIn(deps, ["ready"]);
        const data = await providerSla(a.store, { from: q.filter.from, to: q.filter.to, granularity: q.interval, ...(provider ? { provider } : {}), ...(model ? { model } : {}) });
        return Response.json({ object: "provider_sla", from: q.filter.from.toISOString(), to: q.filter.to.toISOString(), interval: q.interval, provider: provider ?? null, model: model ?? null, data });
      } catch (err) {
        return failure(err);
      }
    },
    {
      query: SlaQuery,
      detail: {
        tags: ["Analytics"],
        summary: "Provider SLA per provider, model and hour or day: attempts, availability, latency and TTFT percentiles, error codes, fallbacks caused (admin key)",
        security: ADMIN_SECURITY,
        responses: {
          200: { description: "The report, oldest bucket first", content: jsonContent(SlaReport) },
          ...errorResponses({ 400: "Invalid query (`invalid_parameter`)", 401: "Admin key missing or wrong", 403: "Admin API disabled", 503: "Analytics off (`analytics_disabled`) or not ready (`analytics_unavailable`)" }),
        },
      },
    },
  );
}
