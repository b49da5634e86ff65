/**
 * Pure: how a request for `model` from a tenant's service, for an end customer, resolves now —
 * every level in precedence order, whether it matched, and the one that wins. The same functions
 * the routing plugin calls (`resolveCustomerOverride`, `resolveRoute`, `resolveModel`), so what
 * this says is what the next request does.
 *
 * @example
 * resolution(snapshot, providers, { model: "chat", tenant: "acme", service: "web", user: "u1" })
 * // { winner: "tenant_service", levels: [{ level: "customer_service", matched: false, why: … }, …] }
 */
import type { ConfigSnapshot } from "../config/snapshot.ts";
import { resolveModel } from "../plugins/routing.ts";
import { resolveCustomerOverride } from "./customer-overrides.ts";
import { resolveRoute } from "./overrides.ts";

export type ResolutionLevel = "customer_service" | "customer" | "tenant_service" | "tenant" | "global" | "model";

export interface LevelCheck {
  level: ResolutionLevel;
  matched: boolean;
  /** Why it did or did not match, in one sentence. */
  why: string;
  /** The targets it would send to (provider/model), when matched. */
  targets?: Array<{ provider: string; model: string }>;
  strategy?: string;
  override?: string;
}

export interface Resolution {
  model: string;
  tenant: string;
  service: string | null;
  user: string | null;
  /** The level that decides, or null when nothing serves the model. */
  winner: ResolutionLevel | null;
  levels: LevelCheck[];
}

export function resolution(snapshot: ConfigSnapshot, providers: ReadonlyArray<{ id: string; models: readonly string[] }>, q: { model: string; tenant: string; service?: string; user?: string }): Resolution {
  const levels: LevelCheck[] = [];
  const customer = resolveCustomerOverride(snapshot.customerOverrides, q.tenant, q.service, q.user);
  for (const level of ["customer_service", "customer"] as const) {
    if (customer?.level === level) {
      levels.push({ level, matched: true, why: `customer override \`${customer.override.id}\` for ${q.user}${level === "customer_service" ? ` in service ${q.service}` : ""}`, targets: [{ provider: customer.override.provider, model: customer.override.model }], override: customer.override.id });
    } else {
      const why = !q.user ? "no end customer (user_id) given" : level === "customer_service" && !q.service ? "no service given" : customer ? "a more specific level matched first" : `no customer override for ${q.user}${level === "customer_service" ? ` in service ${q.service}` : ""}`;
      levels.push({ level, matched: false, why });
    }
  }
  const route = resolveRoute(q.model, snapshot.routes, q.tenant, q.service);
  for (const level of ["tenant_service", "tenant", "global"] as const) {
    const earlier = levels.some((l) => l.matched);
    if (!earlier && route?.level === level) {
      levels.push({ level, matched: true, why: `${level === "global" ? "the gateway route" : level === "tenant" ? `tenant ${q.tenant}'s override` : `tenant ${q.tenant} service ${q.service}'s override`} of \`${q.model}\``, targets: route.route.targets.map((t) => ({ provider: t.provider, model: t.model })), strategy: route.route.strategy });
    } else {
      const why = earlier || (route && order(route.level) < order(level))
        ? "a more specific level matched first"
        : level === "tenant_service" && !q.service
          ? "no service given"
          : `no ${level === "global" ? "gateway route" : level === "tenant" ? "tenant override" : "tenant+service override"} for \`${q.model}\``;
      levels.push({ level, matched: false, why });
    }
  }
  const decided = levels.some((l) => l.matched);
  const m = resolveModel(q.model, snapshot, providers);
  if (!decided && m) levels.push({ level: "model", matched: true, why: m.reason === "alias" ? `model alias \`${q.model}\`` : m.reason === "qualified" ? "a provider/model name" : `listed by provider ${m.provider}`, targets: [{ provider: m.provider, model: m.model }] });
  else levels.push({ level: "model", matched: false, why: decided ? "a more specific level matched first" : `no alias, provider/model or provider lists \`${q.model}\`` });
  return { model: q.model, tenant: q.tenant, service: q.service ?? null, user: q.user ?? null, winner: levels.find((l) => l.matched)?.level ?? null, levels };
}

const order = (l: ResolutionLevel) => ["customer_service", "customer", "tenant_service", "tenant", "global", "model"].indexOf(l);
