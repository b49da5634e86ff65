/**
 * `GET /api/v1/usage/providers/sla`: the provider SLA report, per provider and model
 * and per `interval` (hour or day): attempts, availability (with and without client errors),
 * p50/p95/p99 latency and time to first token, error codes with counts, fallbacks caused.
 * Range like the usage API (`days`, or `from` + `to`); optional `provider` and `model`. The admin
 * key sees every tenant's attempts (or one, with `tenant`); a virtual key its own tenant's.
 */
import { Elysia } from "elysia";
import { Type as T } from "@sinclair/typebox";
import { providerSla } from "../analytics/sla.ts";
import { GatewayError } from "../pipeline/errors.ts";
import { ADMIN_SECURITY, errorResponses, jsonContent, KEY_SECURITY } from "./schemas.ts";
import { analyticsIn, failure, parseUsageQuery, scope, type UsageRoutesDeps } from "./usage.ts";

const SlaQuery = T.Object(
  {
    days: T.Optional(T.String({ description: "Last N days, 1–365 (default 7); not with `from`/`to`" })),
    from: T.Optional(T.String({ description: "ISO-8601 date or time; with `to`" })),
    to: T.Optional(T.String({ description: "ISO-8601 date or time (exclusive); with `from`" })),
    interval: T.Optional(T.String({ description: "`hour` or `day` (default: hour up to 2 days, else day)" })),
    provider: T.Optional(T.String({ description: "Only this provider" })),
    model: T.Optional(T.String({ description: "Only this model" })),
    tenant: T.Optional(T.String({ description: "Admin only: the attempts of one tenant's requests" })),
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
        const tenant = scope(deps, request, (query as Record<string, string | undefined>).tenant);
        const q = parseUsageQuery(query as Record<string, string | undefined>, new Date(), tenant);
        const provider = filterValue("provider", (query as Record<string, string | undefined>).provider);
        const model = filterValue("model", (query as Record<string, string | undefined>).model);
        const a = analyticsIn(deps, ["ready"]);
        const data = await providerSla(a.store, { from: q.filter.from, to: q.filter.to, granularity: q.interval, ...(tenant ? { tenant } : {}), ...(provider ? { provider } : {}), ...(model ? { model } : {}) });
        return Response.json({ object: "provider_sla", from: q.filter.from.toISOString(), to: q.filter.to.toISOString(), interval: q.interval, tenant: tenant ?? null, provider: provider ?? null, model: model ?? null, data });
      } catch (err) {
        return failure(err);
      }
    },
    {
      query: SlaQuery,
      detail: {
        tags: ["Analytics"],
        summary: "Provider SLA per provider, model and hour or day: attempts, availability, latency and TTFT percentiles, error codes, fallbacks caused (admin key: every tenant; virtual key: its own tenant)",
        security: [...ADMIN_SECURITY, ...KEY_SECURITY],
        responses: {
          200: { description: "The report, oldest bucket first", content: jsonContent(SlaReport) },
          ...errorResponses({ 400: "Invalid query (`invalid_parameter`)", 401: "Credential missing or wrong", 403: "A virtual key asked for another tenant (`tenant_forbidden`), or admin API disabled", 503: "Analytics off (`analytics_disabled`) or not ready (`analytics_unavailable`)" }),
        },
      },
    },
  );
}
