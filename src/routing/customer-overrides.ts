/**
 * Customer overrides: the end customer (`user_id`) — optionally for one service, optionally
 * only inside one tenant — is served by a fixed provider/model, whatever model was asked for.
 *
 * Resolution for a request (most specific first):
 *   customer + service  >  customer  >  tenant + service  >  tenant  >  global route  >  alias/model
 * Within the two customer levels a tenant-scoped override beats an every-tenant one, and an
 * override scoped to a tenant never applies outside it.
 */
export interface CustomerOverride {
  id: string;
  userId: string;
  service?: string;
  tenant?: string;
  provider: string;
  model: string;
}

/** Overrides indexed by scope (see `scopeKey`). */
export type CustomerOverrideIndex = ReadonlyMap<string, CustomerOverride>;

export type CustomerLevel = "customer_service" | "customer";

export interface ResolvedCustomerOverride {
  override: CustomerOverride;
  level: CustomerLevel;
}

const scopeKey = (tenant: string | undefined, service: string | undefined, user: string) => `${tenant ?? "*"}\u0000${service ?? "*"}\u0000${user}`;

export function indexCustomerOverrides(list: Iterable<CustomerOverride>): Map<string, CustomerOverride> {
  const index = new Map<string, CustomerOverride>();
  for (const o of list) index.set(scopeKey(o.tenant, o.service, o.userId), o);
  return index;
}

/** Pure: the override for this request's tenant, service and end customer, and its level; undefined = none. */
export function resolveCustomerOverride(index: CustomerOverrideIndex | undefined, tenant: string, service: string | undefined, user: string | undefined): ResolvedCustomerOverride | undefined {
  if (!index || index.size === 0 || !user) return undefined;
  if (service !== undefined) {
    const o = index.get(scopeKey(tenant, service, user)) ?? index.get(scopeKey(undefined, service, user));
    if (o) return { override: o, level: "customer_service" };
  }
  const o = index.get(scopeKey(tenant, undefined, user)) ?? index.get(scopeKey(undefined, undefined, user));
  return o ? { override: o, level: "customer" } : undefined;
}
