/**
 * The configuration snapshot a request is decided under. Read from memory on the hot path;
 * later kept current from the config stream (command → events → projection).
 */
import type { ProviderConfig } from "../providers/types.ts";
import type { BreakerSettings } from "../routing/breaker.ts";
import type { Route } from "../routing/types.ts";
import type { CustomerOverrideIndex } from "../routing/customer-overrides.ts";
import type { TenancySnapshot } from "./tenancy.ts";
import type { GuardrailsSnapshot } from "../guardrails/config.ts";
import type { PluginsSnapshot } from "../projections/config/plugins.ts";
import type { CachePolicies } from "../cache/policy.ts";

/** A route with its resilience settings (defaults filled in). */
export interface RouteConfig extends Route {
  maxRetries: number;
  /** Per attempt, until the first byte (undefined: the provider's own timeout). */
  attemptTimeoutMs?: number;
  deadlineMs: number;
  backoff: { baseMs: number; maxMs: number };
  allowRequestOverrides: boolean;
}

/** Routes by level: global by alias, tenant-wide by tenant then alias, one service by `tenant/service` then alias. */
export interface RouteTables {
  global: Record<string, RouteConfig>;
  tenant: Record<string, Record<string, RouteConfig>>;
  tenantService: Record<`${string}/${string}`, Record<string, RouteConfig>>;
}

/** A model alias: the name clients use → a provider and the provider's model id. */
export interface ModelAlias {
  alias: string;
  provider: string;
  model: string;
}

/** USD per one million tokens. */
export interface Price {
  input: number;
  output: number;
  cachedInput?: number;
  /** Cache writes (Anthropic `cache_creation_input_tokens`); default: the input price. */
  cacheWrite?: number;
  /** The config entity's version and time (set for `price` entities). */
  version?: number;
  updatedAt?: string;
}

export interface ConfigSnapshot {
  /** Monotonic version of the configuration (0 = bootstrap/env only). */
  version: number;
  providers: ProviderConfig[];
  models: ModelAlias[];
  /** Keyed `provider/model`. */
  prices: Record<string, Price>;
  routes: RouteTables;
  breaker: Partial<BreakerSettings>;
  /** Customer overrides by end customer (absent: none). */
  customerOverrides?: CustomerOverrideIndex;
  /** Tenants and virtual keys (absent: none configured, e.g. in unit tests). */
  tenancy?: TenancySnapshot;
  /** Guardrail policies (absent: none configured, guardrails off). */
  guardrails?: GuardrailsSnapshot;
  /** Operator plugin settings: enablement, settings, order (absent: none configured). */
  plugins?: PluginsSnapshot;
  /** Cache policies, global and per tenant (absent: the defaults). */
  cache?: CachePolicies;
}

export function emptySnapshot(): ConfigSnapshot {
  return { version: 0, providers: [], models: [], prices: {}, routes: { global: {}, tenant: {}, tenantService: {} }, breaker: {} };
}
