/**
 * GET /v1/providers and GET /v1/providers/{id}/health: each provider's targets with their
 * circuit-breaker state, recent latency (EWMA) and error rate.
 */
import { Elysia } from "elysia";
import type { ProviderLookup } from "../pipeline/context.ts";
import { GatewayError } from "../pipeline/errors.ts";
import type { Router } from "../routing/router.ts";
import type { TargetHealth } from "../routing/types.ts";
import { errorResponse } from "./http.ts";
import { Type as T } from "@sinclair/typebox";
import { errorResponses, IdParams, KEY_SECURITY, ListOf, Loose, okResponse } from "./schemas.ts";
import type { TenancySnapshot } from "../config/tenancy.ts";
import { checkAnyCredential, type OperatorAccess } from "./operator-access.ts";

const ProviderHealth = Loose({ id: T.String(), kind: T.String(), state: T.String(), targets: T.Array(Loose({ model: T.String(), state: T.String() })) });

export interface ProviderRoutesDeps {
  providers: ProviderLookup;
  router: Router;
  /** Who may read provider health (absent: everyone, as in tests that build the app alone). */
  access?: OperatorAccess & { loopback: boolean; tenancy: () => TenancySnapshot | undefined };
}

/** A valid key (virtual or admin; none in first-run mode) or the 401/403 to answer. */
function denied(deps: ProviderRoutesDeps, request: Request): Response | undefined {
  if (!deps.access) return undefined;
  try {
    checkAnyCredential(deps.access, deps.access.tenancy(), request);
    return undefined;
  } catch (err) {
    if (err instanceof GatewayError) return errorResponse(err);
    throw err;
  }
}

function view(deps: ProviderRoutesDeps, id: string) {
  const provider = deps.providers.get(id);
  if (!provider) return undefined;
  const health = deps.router.health();
  const models = new Set<string>(provider.models);
  for (const key of health.keys()) if (key.startsWith(`${id}/`)) models.add(key.slice(id.length + 1));
  const targets = [...models].map((model) => {
    const h: TargetHealth | undefined = health.get(`${id}/${model}`);
    return { model, state: h?.state ?? "closed", ewma_latency_ms: h?.ewmaLatencyMs === undefined ? null : Math.round(h.ewmaLatencyMs * 100) / 100, error_rate: h?.errorRate ?? 0, samples: h?.samples ?? 0 };
  });
  const state = targets.some((t) => t.state === "open") ? (targets.every((t) => t.state === "open") ? "open" : "degraded") : targets.some((t) => t.state === "half_open") ? "half_open" : "closed";
  return { id, kind: provider.kind, state, targets };
}

export function providerRoutes(deps: ProviderRoutesDeps) {
  return new Elysia({ name: "provider-routes", normalize: false })
    .get("/v1/providers", ({ request }) => denied(deps, request) ?? { object: "list", data: deps.providers.list().map((p) => view(deps, p.id)) }, {
      detail: { tags: ["Operations"], summary: "Providers with breaker state, recent latency and error rate per target (a virtual key or the admin key)", security: [...KEY_SECURITY, { adminKey: [] }], responses: { ...okResponse(ListOf(ProviderHealth), "Every enabled provider"), ...errorResponses({ 401: "No valid key", 403: "Tenant disabled" }) } },
    })
    .get(
      "/v1/providers/:id/health",
      ({ params, request }) => {
        const no = denied(deps, request);
        if (no) return no;
        const v = view(deps, params.id);
        return v ?? errorResponse(new GatewayError({ status: 404, code: "not_found", message: `provider \`${params.id}\` does not exist or is disabled` }));
      },
      {
        params: IdParams,
        detail: {
          tags: ["Operations"],
          summary: "One provider's health: breaker state, EWMA latency, error rate per target (a virtual key or the admin key)",
          security: [...KEY_SECURITY, { adminKey: [] }],
          responses: { ...okResponse(ProviderHealth, "The provider's health"), ...errorResponses({ 401: "No valid key", 403: "Tenant disabled", 404: "No such enabled provider (`not_found`)" }) },
        },
      },
    );
}
