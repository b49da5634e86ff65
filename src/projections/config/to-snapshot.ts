/**
 * Pure: the folded config state (plus the env's built-in providers) as the snapshot a request
 * is decided under.
 */
import type { ConfigSnapshot, RouteConfig, RouteTables } from "../../config/snapshot.ts";
import type { ProviderConfig } from "../../providers/types.ts";
import type { ConfigState, ProviderFields, RouteFields } from "./model.ts";
import { tenancySnapshot } from "./tenancy.ts";
import { guardrailsSnapshot } from "../../guardrails/config.ts";
import { pluginsSnapshot } from "./plugins.ts";
import { customerOverrideIndex } from "./customer-overrides.ts";
import { cachePolicies } from "../../cache/policy.ts";

export interface SecretResolver {
  /** Clear key for a provider entity (decrypt `api_key_enc` or read `api_key_env`). */
  (fields: ProviderFields, providerId: string): string | undefined;
}

/**
 * Built-ins (echo, `openai` from OPENAI_API_KEY) come first; a config entity with the same id
 * replaces a built-in. Disabled providers are left out (and so are aliases to them).
 */
export function toSnapshot(state: ConfigState, builtins: readonly ProviderConfig[], resolveKey: SecretResolver, resolveHeaders?: (fields: ProviderFields, providerId: string) => Record<string, string> | undefined): ConfigSnapshot {
  const providers = new Map<string, ProviderConfig>(builtins.map((p) => [p.id, p]));
  for (const e of Object.values(state.entities.provider)) {
    const f = e.fields;
    if (!f.enabled) {
      providers.delete(e.id);
      continue;
    }
    const cfg: ProviderConfig = { id: e.id, kind: f.kind, models: [...f.models] };
    if (f.base_url) cfg.baseUrl = f.base_url.replace(/\/+$/, "");
    const apiKey = resolveKey(f, e.id);
    if (apiKey) cfg.apiKey = apiKey;
    // Sealed headers (issue 22) are opened here; `headers` then holds masked values only.
    const headers = f.headers_enc && resolveHeaders ? resolveHeaders(f, e.id) : f.headers;
    if (headers) cfg.headers = headers;
    if (f.timeout_ms) cfg.timeoutMs = f.timeout_ms;
    if (f.chunk_delay_ms !== undefined) cfg.chunkDelayMs = f.chunk_delay_ms;
    if (f.api_version) cfg.apiVersion = f.api_version;
    if (f.deployments) cfg.deployments = f.deployments;
    if (f.rpm_limit) cfg.rpmLimit = f.rpm_limit;
    if (f.tpm_limit) cfg.tpmLimit = f.tpm_limit;
    providers.set(e.id, cfg);
  }
  const ordered = [...providers.values()].sort((a, b) => priorityOf(state, a.id) - priorityOf(state, b.id));
  const models = Object.values(state.entities.model_alias)
    .filter((a) => providers.has(a.fields.provider))
    .map((a) => ({ alias: a.id, provider: a.fields.provider, model: a.fields.model }));
  const prices: ConfigSnapshot["prices"] = {};
  for (const p of Object.values(state.entities.price)) {
    prices[p.id] = { input: p.fields.input, output: p.fields.output, ...(p.fields.cached_input !== undefined ? { cachedInput: p.fields.cached_input } : {}), ...(p.fields.cache_write !== undefined ? { cacheWrite: p.fields.cache_write } : {}), version: p.version, updatedAt: p.updatedAt };
  }
  const routes: RouteTables = { global: {}, tenant: {}, tenantService: {} };
  for (const r of Object.values(state.entities.route)) routes.global[r.id] = routeConfig(r.id, r.fields);
  for (const o of Object.values(state.entities.route_override)) {
    const parts = o.id.split("/");
    const alias = parts.at(-1)!;
    if (parts.length === 2) (routes.tenant[parts[0]!] ??= {})[alias] = routeConfig(alias, o.fields);
    else (routes.tenantService[`${parts[0]}/${parts[1]}`] ??= {})[alias] = routeConfig(alias, o.fields);
  }
  const b = state.entities.breaker.default?.fields;
  const breaker: ConfigSnapshot["breaker"] = {};
  if (b?.window_ms) breaker.windowMs = b.window_ms;
  if (b?.min_requests) breaker.minRequests = b.min_requests;
  if (b?.failure_rate) breaker.failureRateToOpen = b.failure_rate;
  if (b?.open_ms) breaker.openMs = b.open_ms;
  const customerOverrides = customerOverrideIndex(state, providers);
  return { version: state.version, providers: ordered, models, prices, routes, breaker, tenancy: tenancySnapshot(state), plugins: pluginsSnapshot(state), cache: cachePolicies(state.entities.cache_policy), ...(Object.keys(state.entities.guardrails).length ? { guardrails: guardrailsSnapshot(state.entities.guardrails) } : {}), ...(customerOverrides.size ? { customerOverrides } : {}) };
}

/** Route fields (config) → RouteConfig with defaults. */
export function routeConfig(alias: string, f: RouteFields): RouteConfig {
  const r: RouteConfig = {
    alias,
    strategy: f.strategy as RouteConfig["strategy"],
    targets: f.targets.map((t) => ({ ...t })),
    maxRetries: f.max_retries ?? 2,
    deadlineMs: f.deadline_ms ?? 120_000,
    backoff: { baseMs: f.backoff_base_ms ?? 100, maxMs: f.backoff_max_ms ?? 5_000 },
    allowRequestOverrides: f.allow_request_overrides ?? true,
  };
  if (f.ab) r.ab = { ...f.ab };
  if (f.attempt_timeout_ms) r.attemptTimeoutMs = f.attempt_timeout_ms;
  return r;
}

/** Lower priority number first; built-ins (no entity) keep their place at 0, stable sort keeps order. */
function priorityOf(state: ConfigState, id: string): number {
  return state.entities.provider[id]?.fields.priority ?? 0;
}
