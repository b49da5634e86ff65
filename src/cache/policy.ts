/**
 * Pure: the cache policy. A config entity `cache_policy` (id `_global`, or a tenant id) holds the
 * fields an admin set; a request gets the effective policy: built-in defaults ← global ← tenant,
 * field by field.
 */
import { Type as T, type Static } from "@sinclair/typebox";

/** The built-in local embedder's name in `embeddings_model` (the default when it is left out). */
export const LOCAL_EMBEDDINGS_MODEL = "local";

export const GLOBAL_POLICY_ID = "_global";
export const MAX_TTL_SECONDS = 30 * 24 * 3600;
export const MAX_ENTRY_BYTES_LIMIT = 64 * 1024 * 1024;

export const CacheMode = T.Union([T.Literal("off"), T.Literal("deterministic"), T.Literal("all")], {
  description: "`off`; `deterministic` (default): only requests with temperature 0 or a seed; `all`: every request (keyed by its temperature too)",
});

/** The semantic tier (off by default): answer a paraphrase from an earlier answer. */
export const SemanticFields = T.Object(
  {
    enabled: T.Boolean(),
    embeddings_model: T.Optional(T.String({ minLength: 1, maxLength: 200, description: "`local` (default): the built-in all-MiniLM-L6-v2 embedder, in process and free; or an alias or `provider/model` that offers embeddings" })),
    threshold: T.Optional(T.Number({ minimum: 0, maximum: 1, description: "Cosine similarity from which a paraphrase is a hit (default 0.97)" })),
    max_messages: T.Optional(T.Integer({ minimum: 1, maximum: 50, description: "Longest conversation (non-system messages) looked up semantically (default 4)" })),
  },
  { additionalProperties: false },
);
export type SemanticFields = Static<typeof SemanticFields>;

export const CachePolicyFields = T.Object(
  {
    mode: T.Optional(CacheMode),
    ttl_seconds: T.Optional(T.Integer({ minimum: 0, maximum: MAX_TTL_SECONDS, description: "How long an entry lives (default 3600; 0 disables the cache)" })),
    scope: T.Optional(T.Union([T.Literal("tenant"), T.Literal("key"), T.Literal("user")], { description: "`tenant` (default): the tenant's keys share entries; `key`: each key has its own; `user`: each end customer (`user_id` / OpenAI `user` / `x-tollgate-user`) has its own, exact and semantic tiers alike (requests without one share the tenant's)" })),
    max_entry_bytes: T.Optional(T.Integer({ minimum: 1, maximum: MAX_ENTRY_BYTES_LIMIT, description: "Larger answers are not stored (default 1 MiB)" })),
    semantic: T.Optional(SemanticFields),
  },
  { additionalProperties: false },
);
export type CachePolicyFields = Static<typeof CachePolicyFields>;

export interface CachePolicy {
  mode: "off" | "deterministic" | "all";
  ttlSeconds: number;
  scope: "tenant" | "key" | "user";
  maxEntryBytes: number;
  /** Present when the semantic tier is on. */
  semantic?: { embeddingsModel: string; threshold: number; maxMessages: number };
}

/** Chosen on MRPC (docs/cache.md, "Choosing a threshold"): the lowest threshold with hit precision ≥ 0.95 on every split. */
export const DEFAULT_THRESHOLD = 0.97;
export const DEFAULT_MAX_MESSAGES = 4;

export const DEFAULT_POLICY: Readonly<CachePolicy> = { mode: "deterministic", ttlSeconds: 3600, scope: "tenant", maxEntryBytes: 1024 * 1024 };

/** The cache part of the config snapshot. */
export interface CachePolicies {
  global?: CachePolicyFields;
  tenants: Record<string, CachePolicyFields>;
}

/** Pure: the policies of the folded config (entities `cache_policy`). */
export function cachePolicies(entities: Record<string, { id: string; fields: CachePolicyFields }>): CachePolicies {
  const out: CachePolicies = { tenants: {} };
  for (const e of Object.values(entities)) {
    if (e.id === GLOBAL_POLICY_ID) out.global = e.fields;
    else out.tenants[e.id] = e.fields;
  }
  return out;
}

/** Pure: the effective policy of a tenant. */
export function effectivePolicy(policies: CachePolicies | undefined, tenant: string): CachePolicy {
  const p: CachePolicy = { ...DEFAULT_POLICY };
  for (const f of [policies?.global, policies && Object.hasOwn(policies.tenants, tenant) ? policies.tenants[tenant] : undefined]) {
    if (!f) continue;
    if (f.mode !== undefined) p.mode = f.mode;
    if (f.ttl_seconds !== undefined) p.ttlSeconds = f.ttl_seconds;
    if (f.scope !== undefined) p.scope = f.scope;
    if (f.max_entry_bytes !== undefined) p.maxEntryBytes = f.max_entry_bytes;
    if (f.semantic !== undefined) {
      if (f.semantic.enabled) p.semantic = { embeddingsModel: f.semantic.embeddings_model ?? LOCAL_EMBEDDINGS_MODEL, threshold: f.semantic.threshold ?? DEFAULT_THRESHOLD, maxMessages: f.semantic.max_messages ?? DEFAULT_MAX_MESSAGES };
      else delete p.semantic;
    }
  }
  return p;
}

/** What a request's `Cache-Control` header asks of the cache. */
export interface CacheDirectives {
  /** `no-store`: neither look up nor store. */
  noStore: boolean;
  /** `no-cache`: skip the lookup, still store. */
  noCache: boolean;
  /** `max-age=N`: accept only an entry at most N seconds old. */
  maxAgeSeconds?: number;
}

/** Pure: parse `Cache-Control` (unknown directives are ignored; a malformed max-age is ignored). */
export function parseCacheControl(header: string | null | undefined): CacheDirectives {
  const d: CacheDirectives = { noStore: false, noCache: false };
  if (!header) return d;
  for (const part of header.split(",")) {
    const [name, value] = part.trim().toLowerCase().split("=", 2) as [string, string | undefined];
    if (name === "no-store") d.noStore = true;
    else if (name === "no-cache") d.noCache = true;
    else if (name === "max-age" && value !== undefined && /^\d+$/.test(value.replace(/"/g, ""))) d.maxAgeSeconds = Number(value.replace(/"/g, ""));
  }
  return d;
}

/** Provider kinds without an embeddings endpoint. */
const NO_EMBEDDINGS = new Set(["anthropic"]);

/**
 * Pure: why `model` cannot serve embeddings (undefined when it can): it must be an alias or
 * `provider/model` of a known provider whose kind offers embeddings.
 */
export function embeddingsModelProblem(model: string, aliases: Readonly<Record<string, { provider: string }>>, providerKind: (id: string) => string | undefined): string | undefined {
  const alias = Object.hasOwn(aliases, model) ? aliases[model] : undefined;
  const provider = alias ? alias.provider : model.includes("/") ? model.slice(0, model.indexOf("/")) : undefined;
  if (!provider) return `\`${model}\` is neither an alias nor \`provider/model\``;
  const kind = providerKind(provider);
  if (!kind) return `unknown provider \`${provider}\``;
  if (NO_EMBEDDINGS.has(kind)) return `provider \`${provider}\` (${kind}) offers no embeddings`;
  return undefined;
}
