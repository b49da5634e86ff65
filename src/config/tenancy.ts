/**
 * Tenants and virtual keys as the request path sees them (part of the config snapshot).
 * Limit fields keep their config names (`rpm_limit`, `budget.amount_usd`) so the limits
 * plugin reads a key and a tenant the same way.
 */

export interface Budget {
  amount_usd: number;
  period: "day" | "month";
}

export interface TenantRecord {
  id: string;
  name: string;
  enabled: boolean;
  rpm_limit?: number;
  tpm_limit?: number;
  budget?: Budget;
  /** Allowed models or aliases for every key of the tenant; absent = all. */
  models?: string[];
}

export interface KeyRecord {
  /** The key id (`key_…`), never the key. */
  id: string;
  tenant: string;
  service?: string;
  user?: string;
  name?: string;
  /** Visible prefix of the key's current secret (`tg-AbCdE`). */
  prefix: string;
  /** Allowed models or aliases (a trailing `*` matches a prefix); absent = all. */
  models?: string[];
  rpm_limit?: number;
  tpm_limit?: number;
  budget?: Budget;
  /** ISO time after which the key is refused, and the same as epoch ms. */
  expires_at?: string;
  expires_at_ms?: number;
  /** ISO time the key was revoked (refused from then on). */
  revoked_at?: string;
  /** Set when this entry is a rotated-out secret: accepted until then (epoch ms). */
  grace_until_ms?: number;
}

export interface TenancySnapshot {
  /** Every key by the SHA-256 hex of its secret (a rotated key's previous hash too, during its grace). */
  keys: Map<string, KeyRecord>;
  tenants: Record<string, TenantRecord>;
  /** Whether any key was ever created (revoked ones count): if so, every request needs a key. */
  anyKeys: boolean;
}
