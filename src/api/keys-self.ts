/**
 * GET /api/v1/keys/self — with a virtual key: its limits, the budget left in the current
 * period and the rate windows' state (key and tenant), read from the StateStore.
 */
import { Elysia } from "elysia";
import type { ConfigSnapshot } from "../config/snapshot.ts";
import { GatewayError } from "../pipeline/errors.ts";
import { authenticate, credentialFrom } from "../plugins/auth.ts";
import { admissionSpecs, type LimitHolder } from "../plugins/limits.ts";
import type { StateStore } from "../stores/state-store.ts";
import { errorResponse } from "./http.ts";
import { Type as T } from "@sinclair/typebox";
import { errorResponses, KEY_SECURITY, Loose, okResponse } from "./schemas.ts";

export interface KeysSelfDeps {
  config: () => ConfigSnapshot;
  store: StateStore;
  loopback: boolean;
}

export function keysSelfRoutes(deps: KeysSelfDeps) {
  return new Elysia({ name: "keys-self-routes", normalize: false }).get(
    "/api/v1/keys/self",
    async ({ request }) => {
      const snapshot = deps.config();
      const decision = authenticate(snapshot.tenancy, credentialFrom(request.headers), { loopback: deps.loopback, now: Date.now() });
      if (!decision.ok) return errorResponse(new GatewayError({ status: decision.status, code: decision.code, message: decision.message }));
      const key = decision.key;
      const tenant = decision.tenant;
      const { rates, budgets } = admissionSpecs(key as LimitHolder | undefined, tenant as LimitHolder | undefined, 0);
      // The limit is the configured one (the store only learns it on the first admission).
      const budgetStates = await Promise.all(budgets.map(async (b) => ({ scope: b.key.split(":")[1], ...(await deps.store.peekBudget(b.key, b.period)), limitMicros: b.limitMicros })));
      const rateStates = await Promise.all(rates.map(async (r) => ({ scope: r.key.split(":")[1], kind: r.key.split(":")[0], ...(await deps.store.peekRate(r.key, r.limit, r.windowMs)) })));
      return Response.json({
        tenant_id: decision.tenantId,
        key: key ? { id: key.id, prefix: key.prefix, name: key.name ?? null, service: key.service ?? null, user: key.user ?? null, models: key.models ?? null, expires_at: key.expires_at ?? null } : null,
        limits: {
          key: key ? { rpm_limit: key.rpm_limit ?? null, tpm_limit: key.tpm_limit ?? null, budget: key.budget ?? null } : null,
          tenant: tenant ? { rpm_limit: tenant.rpm_limit ?? null, tpm_limit: tenant.tpm_limit ?? null, budget: tenant.budget ?? null } : null,
        },
        budgets: budgetStates.map((b) => ({
          scope: b.scope,
          period: b.period,
          limit_usd: b.limitMicros / 1e6,
          spent_usd: b.spentMicros / 1e6,
          reserved_usd: b.reservedMicros / 1e6,
          remaining_usd: Math.max(0, b.limitMicros - b.spentMicros - b.reservedMicros) / 1e6,
        })),
        rate_limits: rateStates.map((r) => ({ scope: r.scope, kind: r.kind, limit: r.limit, remaining: r.remaining, reset_ms: r.resetMs })),
      });
    },
    {
      detail: {
        tags: ["Tenancy"],
        summary: "The calling key: its limits, remaining budget and rate-window state",
        security: KEY_SECURITY,
        responses: { ...okResponse(Loose({ tenant_id: T.String() }), "The key's view of itself"), ...errorResponses({ 401: "Virtual key missing or wrong", 403: "Key or tenant disabled" }) },
      },
    },
  );
}
