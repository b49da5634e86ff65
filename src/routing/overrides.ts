/**
 * Customer route overrides: a tenant, or one service of a tenant, may redefine an alias.
 * Precedence: tenant+service > tenant-wide > global default.
 */
import type { Route } from "./types.ts";

export type RouteTable = Readonly<Record<string, Route>>;

export interface RouteOverrides {
  /** The gateway-wide routes, keyed by alias. */
  global: RouteTable;
  /** Per tenant id, routes keyed by alias. */
  tenant: Readonly<Record<string, RouteTable>>;
  /** Per `${tenant}/${service}`, routes keyed by alias. */
  tenantService: Readonly<Record<`${string}/${string}`, RouteTable>>;
}

export type OverrideLevel = "tenant_service" | "tenant" | "global";

export interface ResolvedRoute {
  route: Route;
  level: OverrideLevel;
}

/** Own properties only: an alias like `constructor` must not find `Object.prototype`. */
function own<T>(table: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return table !== undefined && Object.hasOwn(table, key) ? table[key] : undefined;
}

/** The route `alias` resolves to for `tenant` (and `service`), and which level defined it; undefined = unknown alias. */
export function resolveRoute(alias: string, overrides: RouteOverrides, tenant: string, service?: string): ResolvedRoute | undefined {
  if (service !== undefined) {
    const route = own(own(overrides.tenantService, `${tenant}/${service}`), alias);
    if (route) return { route, level: "tenant_service" };
  }
  const tenantRoute = own(own(overrides.tenant, tenant), alias);
  if (tenantRoute) return { route: tenantRoute, level: "tenant" };
  const globalRoute = own(overrides.global, alias);
  if (globalRoute) return { route: globalRoute, level: "global" };
  return undefined;
}
