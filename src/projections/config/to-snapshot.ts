/**
 * Pure: the folded config state (plus the env's built-in providers) as the snapshot a request
 * is decided under.
 */
import type { ConfigSnapshot } from "../../config/snapshot.ts";
import type { ProviderConfig } from "../../providers/types.ts";
import type { ConfigState, ProviderFields } from "./model.ts";

export interface SecretResolver {
  /** Clear key for a provider entity (decrypt `api_key_enc` or read `api_key_env`). */
  (fields: ProviderFields, providerId: string): string | undefined;
}

/**
 * Built-ins (echo, `openai` from OPENAI_API_KEY) come first; a config entity with the same id
 * replaces a built-in. Disabled providers are left out (and so are aliases to them).
 */
export function toSnapshot(state: ConfigState, builtins: readonly ProviderConfig[], resolveKey: SecretResolver): ConfigSnapshot {
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
    if (f.headers) cfg.headers = f.headers;
    if (f.timeout_ms) cfg.timeoutMs = f.timeout_ms;
    if (f.chunk_delay_ms !== undefined) cfg.chunkDelayMs = f.chunk_delay_ms;
    if (f.api_version) cfg.apiVersion = f.api_version;
    if (f.deployments) cfg.deployments = f.deployments;
    providers.set(e.id, cfg);
  }
  const ordered = [...providers.values()].sort((a, b) => priorityOf(state, a.id) - priorityOf(state, b.id));
  const models = Object.values(state.entities.model_alias)
    .filter((a) => providers.has(a.fields.provider))
    .map((a) => ({ alias: a.id, provider: a.fields.provider, model: a.fields.model }));
  const prices: ConfigSnapshot["prices"] = {};
  for (const p of Object.values(state.entities.price)) {
    prices[p.id] = { input: p.fields.input, output: p.fields.output, ...(p.fields.cached_input !== undefined ? { cachedInput: p.fields.cached_input } : {}) };
  }
  return { version: state.version, providers: ordered, models, prices };
}

/** Lower priority number first; built-ins (no entity) keep their place at 0, stable sort keeps order. */
function priorityOf(state: ConfigState, id: string): number {
  return state.entities.provider[id]?.fields.priority ?? 0;
}
