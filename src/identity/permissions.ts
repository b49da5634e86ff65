/**
 * THE permission table: what each admin route needs, and which roles hold each permission.
 * The admin check (src/identity/guard.ts) looks every request up here, the OpenAPI document
 * shows it (`x-tollgate-permission`), and the route × role test is generated from it. A route
 * missing from the table is refused for everyone (`permission_undeclared`), so it cannot ship
 * unnoticed.
 *
 * Tenant-scoped permissions: a `tenant_admin` holds them only when the route's tenant (from the
 * path, query, body or the key named in the path: `tenant` below) is its own.
 */
import type { Role } from "./entities.ts";

export const PERMISSIONS = {
  "config.read": { roles: ["owner", "operator"], tenantScoped: false, description: "Read providers, models, prices, routes, overrides, breakers, guardrails, cache and plugin settings, and the config history" },
  "config.write": { roles: ["owner", "operator"], tenantScoped: false, description: "Change them" },
  "tenants.manage": { roles: ["owner", "operator"], tenantScoped: false, description: "List, create and delete tenants" },
  "tenant.read": { roles: ["owner", "operator", "tenant_admin"], tenantScoped: true, description: "Read one tenant, its keys, guardrails, cache policy and cache statistics" },
  "tenant.write": { roles: ["owner", "operator", "tenant_admin"], tenantScoped: true, description: "Change one tenant's limits and budget, create / rotate / revoke its keys, set its guardrails, cache and plugin settings" },
  "usage.read": { roles: ["owner", "operator", "analyst", "tenant_admin"], tenantScoped: true, description: "Read usage and cost analytics (a tenant_admin: its tenant's)" },
  "usage.rebuild": { roles: ["owner", "operator"], tenantScoped: false, description: "Rebuild the usage projection" },
  "issuers.read": { roles: ["owner", "operator"], tenantScoped: false, description: "Read JWT issuers" },
  "issuers.write": { roles: ["owner", "operator"], tenantScoped: false, description: "Create, change and delete JWT issuers" },
  "admins.manage": { roles: ["owner"], tenantScoped: false, description: "List, create and revoke admin identities" },
  "audit.read": { roles: ["owner", "operator"], tenantScoped: false, description: "Read the audit trail" },
  "self.read": { roles: ["owner", "operator", "analyst", "tenant_admin"], tenantScoped: false, description: "Who am I, what may I do" },
} as const satisfies Record<string, { roles: readonly Role[]; tenantScoped: boolean; description: string }>;
export type Permission = keyof typeof PERMISSIONS;

/** Where a route's tenant comes from (tenant-scoped permissions only). `ownIfMissing`: absent = the caller's own. */
export type TenantFrom =
  | { param: string; prefix?: string }
  | { query: string; ownIfMissing?: boolean }
  | { body: string }
  | { keyParam: string };

export interface RouteRule {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Elysia path (`:name` parameters). */
  path: string;
  permission: Permission;
  tenant?: TenantFrom;
}

const crud = (path: string, read: Permission, write: Permission): RouteRule[] => [
  { method: "GET", path, permission: read },
  { method: "POST", path, permission: write },
  { method: "GET", path: `${path}/:id`, permission: read },
  { method: "PATCH", path: `${path}/:id`, permission: write },
  { method: "DELETE", path: `${path}/:id`, permission: write },
];
const own = { param: "id" } as const;

export const ROUTE_RULES: readonly RouteRule[] = [
  // config entities (src/api/admin.ts)
  ...crud("/api/v1/providers", "config.read", "config.write"),
  ...crud("/api/v1/models", "config.read", "config.write"),
  ...crud("/api/v1/prices", "config.read", "config.write"),
  ...crud("/api/v1/routes", "config.read", "config.write"),
  ...crud("/api/v1/route-overrides", "config.read", "config.write"),
  ...crud("/api/v1/breakers", "config.read", "config.write"),
  { method: "POST", path: "/api/v1/providers/:id/test", permission: "config.write" },
  { method: "GET", path: "/api/v1/admin/config", permission: "config.read" },
  { method: "GET", path: "/api/v1/admin/config/history", permission: "config.read" },
  // customer overrides (src/api/overrides.ts)
  { method: "GET", path: "/api/v1/overrides", permission: "config.read" },
  { method: "POST", path: "/api/v1/overrides", permission: "config.write" },
  { method: "GET", path: "/api/v1/overrides/:id", permission: "config.read" },
  { method: "DELETE", path: "/api/v1/overrides/:id", permission: "config.write" },
  // tenants and keys (src/api/tenancy.ts)
  { method: "GET", path: "/api/v1/admin/tenants", permission: "tenants.manage" },
  { method: "POST", path: "/api/v1/admin/tenants", permission: "tenants.manage" },
  { method: "GET", path: "/api/v1/admin/tenants/:id", permission: "tenant.read", tenant: own },
  { method: "PATCH", path: "/api/v1/admin/tenants/:id", permission: "tenant.write", tenant: own },
  { method: "DELETE", path: "/api/v1/admin/tenants/:id", permission: "tenants.manage" },
  { method: "GET", path: "/api/v1/admin/keys", permission: "tenant.read", tenant: { query: "tenant_id" } },
  { method: "POST", path: "/api/v1/admin/keys", permission: "tenant.write", tenant: { body: "tenant_id" } },
  { method: "GET", path: "/api/v1/admin/keys/:id", permission: "tenant.read", tenant: { keyParam: "id" } },
  { method: "PATCH", path: "/api/v1/admin/keys/:id", permission: "tenant.write", tenant: { keyParam: "id" } },
  { method: "POST", path: "/api/v1/admin/keys/:id/rotate", permission: "tenant.write", tenant: { keyParam: "id" } },
  { method: "DELETE", path: "/api/v1/admin/keys/:id", permission: "tenant.write", tenant: { keyParam: "id" } },
  // guardrails, cache, plugins (src/api/guardrails.ts, cache.ts, plugins-admin.ts)
  { method: "GET", path: "/api/v1/admin/guardrails", permission: "config.read" },
  { method: "PUT", path: "/api/v1/admin/guardrails", permission: "config.write" },
  { method: "GET", path: "/api/v1/admin/tenants/:id/guardrails", permission: "tenant.read", tenant: own },
  { method: "PUT", path: "/api/v1/admin/tenants/:id/guardrails", permission: "tenant.write", tenant: own },
  { method: "GET", path: "/api/v1/admin/cache", permission: "config.read" },
  { method: "PUT", path: "/api/v1/admin/cache", permission: "config.write" },
  { method: "GET", path: "/api/v1/admin/tenants/:id/cache", permission: "tenant.read", tenant: own },
  { method: "PUT", path: "/api/v1/admin/tenants/:id/cache", permission: "tenant.write", tenant: own },
  { method: "DELETE", path: "/api/v1/admin/tenants/:id/cache", permission: "tenant.write", tenant: own },
  { method: "GET", path: "/v1/cache/stats", permission: "tenant.read", tenant: { query: "tenant_id", ownIfMissing: true } },
  { method: "DELETE", path: "/v1/cache", permission: "tenant.write", tenant: { query: "tenant_id", ownIfMissing: true } },
  { method: "GET", path: "/api/v1/admin/plugins", permission: "config.read" },
  { method: "PUT", path: "/api/v1/admin/plugins/:name", permission: "config.write" },
  { method: "PUT", path: "/api/v1/admin/tenants/:id/plugins/:name", permission: "tenant.write", tenant: own },
  // usage (src/api/usage.ts): a tenant_admin sees its own tenant (absent `tenant` = its own)
  ...["summary", "by-provider", "by-model", "by-service", "by-customer", "by-tenant", "timeseries", "customers/:user_id"].map(
    (p): RouteRule => ({ method: "GET", path: `/api/v1/usage/${p}`, permission: "usage.read", tenant: { query: "tenant", ownIfMissing: true } }),
  ),
  { method: "POST", path: "/api/v1/admin/projections/usage/rebuild", permission: "usage.rebuild" },
  // identity (src/api/identity.ts)
  { method: "GET", path: "/api/v1/admin/admins", permission: "admins.manage" },
  { method: "POST", path: "/api/v1/admin/admins", permission: "admins.manage" },
  { method: "GET", path: "/api/v1/admin/admins/:id", permission: "admins.manage" },
  { method: "PATCH", path: "/api/v1/admin/admins/:id", permission: "admins.manage" },
  { method: "DELETE", path: "/api/v1/admin/admins/:id", permission: "admins.manage" },
  ...crud("/api/v1/admin/jwt-issuers", "issuers.read", "issuers.write"),
  { method: "GET", path: "/api/v1/admin/audit", permission: "audit.read" },
  { method: "GET", path: "/api/v1/admin/whoami", permission: "self.read" },
  // console helpers (issue 26): read-only views; the dry run records nothing
  { method: "GET", path: "/api/v1/admin/resolution", permission: "config.read" },
  { method: "GET", path: "/api/v1/admin/budgets", permission: "config.read" },
  { method: "POST", path: "/api/v1/admin/guardrails/test", permission: "config.read" },
  // stored Responses API conversations (issue 27): erase one tenant's
  { method: "DELETE", path: "/api/v1/admin/tenants/:id/responses", permission: "tenant.write", tenant: own },
  // alerts and provider SLA (issue 29, src/api/alerts.ts, src/api/sla.ts)
  ...crud("/api/v1/alerts/rules", "config.read", "config.write"),
  ...crud("/api/v1/alerts/destinations", "config.read", "config.write"),
  { method: "POST", path: "/api/v1/alerts/destinations/:id/test", permission: "config.write" },
  { method: "GET", path: "/api/v1/alerts", permission: "config.read" },
  { method: "GET", path: "/api/v1/usage/providers/sla", permission: "usage.read", tenant: { query: "tenant", ownIfMissing: true } },
  // request explorer (issue 25, src/api/explorer.ts): usage data, a tenant_admin sees its own tenant
  { method: "GET", path: "/api/v1/requests", permission: "usage.read", tenant: { query: "tenant", ownIfMissing: true } },
  { method: "GET", path: "/api/v1/requests/:id", permission: "usage.read" },
  { method: "GET", path: "/api/v1/requests/:id/explain", permission: "usage.read" },
  { method: "POST", path: "/api/v1/analysis/reprice", permission: "usage.read" },
  { method: "GET", path: "/api/v1/analysis/cache-opportunity", permission: "usage.read", tenant: { query: "tenant", ownIfMissing: true } },
];

interface Compiled {
  rule: RouteRule;
  re: RegExp;
  names: string[];
}
const COMPILED: Compiled[] = ROUTE_RULES.map((rule) => {
  const names: string[] = [];
  const re = new RegExp(`^${rule.path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:([A-Za-z_]+)/g, (_, n: string) => (names.push(n), "([^/]+)"))}$`);
  return { rule, re, names };
});

/** Pure: the rule for a request (method + path), with its decoded path parameters. */
export function ruleFor(method: string, pathname: string): { rule: RouteRule; params: Record<string, string> } | undefined {
  for (const c of COMPILED) {
    if (c.rule.method !== method) continue;
    const m = c.re.exec(pathname);
    if (!m) continue;
    const params: Record<string, string> = {};
    c.names.forEach((n, i) => {
      try {
        params[n] = decodeURIComponent(m[i + 1]!);
      } catch {
        params[n] = m[i + 1]!;
      }
    });
    return { rule: c.rule, params };
  }
  return undefined;
}

/** The rule for an OpenAPI path (`{id}` parameters), for the document and the tests. */
export function ruleForSpec(method: string, specPath: string): RouteRule | undefined {
  const path = specPath.replace(/\{([A-Za-z_]+)\}/g, ":$1");
  return ROUTE_RULES.find((r) => r.method === method.toUpperCase() && r.path === path);
}

/** Every permission a role holds (tenant-scoped ones only for its tenant). */
export function permissionsOf(role: Role): Permission[] {
  return (Object.keys(PERMISSIONS) as Permission[]).filter((p) => (PERMISSIONS[p].roles as readonly Role[]).includes(role));
}

/**
 * Pure: may `who` use `rule` when the route's tenant is `tenant` (undefined: none named)?
 * owner/operator/analyst hold a permission or not; a tenant_admin holds a tenant-scoped one only
 * for its own tenant.
 */
export function allowed(who: { role: Role; tenant?: string | undefined }, permission: Permission, tenant: string | undefined): boolean {
  const p = PERMISSIONS[permission];
  if (!(p.roles as readonly Role[]).includes(who.role)) return false;
  if (who.role !== "tenant_admin" || !p.tenantScoped) return true;
  return tenant !== undefined && tenant === who.tenant;
}
