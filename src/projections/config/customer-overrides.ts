/**
 * Decider rules for `customer_override` entities: the provider is known, a tenant-scoped
 * override names an existing tenant, and there is at most one override per
 * (tenant, service, user_id) — so resolution never has to choose between two.
 */
import { GatewayError } from "../../pipeline/errors.ts";
import type { ConfigState, CustomerOverrideFields } from "./model.ts";
import { type CustomerOverride, indexCustomerOverrides } from "../../routing/customer-overrides.ts";

/** The scope an override applies to: `<tenant|*>` `<service|*>` `<user_id>`. */
export function overrideScope(f: Pick<CustomerOverrideFields, "tenant" | "service" | "user_id">): string {
  return JSON.stringify([f.tenant ?? null, f.service ?? null, f.user_id]);
}

export function checkCustomerOverride(state: ConfigState, id: string, f: CustomerOverrideFields, knownProvider: (id: string) => boolean): void {
  if (!knownProvider(f.provider)) {
    throw new GatewayError({ status: 400, code: "unknown_provider", message: `Unknown provider \`${f.provider}\``, param: "provider" });
  }
  if (f.tenant !== undefined && f.tenant !== "default" && !state.entities.tenant[f.tenant]) {
    throw new GatewayError({ status: 400, code: "unknown_tenant", message: `Unknown tenant \`${f.tenant}\``, param: "tenant" });
  }
  const scope = overrideScope(f);
  for (const other of Object.values(state.entities.customer_override ?? {})) {
    if (other.id !== id && overrideScope(other.fields) === scope) {
      throw new GatewayError({ status: 409, code: "already_exists", message: `An override for this user_id, service and tenant already exists (${other.id})`, details: { id: other.id } });
    }
  }
}

/** The snapshot's index of customer overrides (overrides to a disabled/absent provider are left out). */
export function customerOverrideIndex(state: ConfigState, providers: ReadonlyMap<string, unknown>): Map<string, CustomerOverride> {
  const live: CustomerOverride[] = [];
  for (const e of Object.values(state.entities.customer_override ?? {})) {
    const f = e.fields;
    if (!providers.has(f.provider)) continue;
    live.push({ id: e.id, userId: f.user_id, provider: f.provider, model: f.model, ...(f.service !== undefined ? { service: f.service } : {}), ...(f.tenant !== undefined ? { tenant: f.tenant } : {}) });
  }
  return indexCustomerOverrides(live);
}
