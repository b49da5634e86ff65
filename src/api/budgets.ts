/**
 * GET /api/v1/admin/budgets[?tenant_id=] (admin): every budget — per tenant and per key — with its
 * limit (from config), settled spend and open reservations this period (from the StateStore, the
 * same counters admission uses), and what remains. Read-only.
 */
import { Elysia } from "elysia";
import { Type as T } from "@sinclair/typebox";
import type { StateStore } from "../stores/state-store.ts";
import { type AdminDeps, asAdmin } from "./admin.ts";
import { adminDetail, ListOf, Loose, okResponse } from "./schemas.ts";

const BudgetView = Loose({
  scope: T.Union([T.Literal("tenant"), T.Literal("key")]),
  id: T.String(),
  tenant_id: T.String(),
  period: T.Union([T.Literal("day"), T.Literal("month")]),
  limit_usd: T.Number(),
  spent_usd: T.Number(),
  reserved_usd: T.Number(),
  remaining_usd: T.Number(),
});

export function budgetsRoutes(deps: AdminDeps & { store: StateStore }) {
  return new Elysia({ name: "admin-budgets", normalize: false }).get(
    "/api/v1/admin/budgets",
    ({ request, query }) =>
      asAdmin(deps, request, async () => {
        const { tenant: tenants, key: keys } = deps.config.state.entities;
        const wanted: Array<{ scope: "tenant" | "key"; id: string; tenant_id: string; budget: { amount_usd: number; period: "day" | "month" } }> = [];
        for (const t of Object.values(tenants)) if (t.fields.budget && (!query.tenant_id || t.id === query.tenant_id)) wanted.push({ scope: "tenant", id: t.id, tenant_id: t.id, budget: t.fields.budget });
        for (const k of Object.values(keys)) {
          if (k.fields.budget && !k.fields.revoked_at && (!query.tenant_id || k.fields.tenant === query.tenant_id)) wanted.push({ scope: "key", id: k.id, tenant_id: k.fields.tenant, budget: k.fields.budget });
        }
        const data = await Promise.all(
          wanted.map(async (w) => {
            const s = await deps.store.peekBudget(`budget:${w.scope}:${w.id}`, w.budget.period);
            const limit = Math.round(w.budget.amount_usd * 1e6);
            return { scope: w.scope, id: w.id, tenant_id: w.tenant_id, period: w.budget.period, limit_usd: limit / 1e6, spent_usd: s.spentMicros / 1e6, reserved_usd: s.reservedMicros / 1e6, remaining_usd: Math.max(0, limit - s.spentMicros - s.reservedMicros) / 1e6 };
          }),
        );
        return Response.json({ object: "list", data });
      }),
    {
      query: T.Object({ tenant_id: T.Optional(T.String({ minLength: 1, maxLength: 64 })) }),
      detail: adminDetail("Admin: tenants", "Budgets of tenants and keys: limit, spent, reserved and remaining this period", okResponse(ListOf(BudgetView), "Every budget (optionally of one tenant)")),
    },
  );
}
