/**
 * Configuration entities, commands and events (TypeBox). Commands are imperative
 * (`provider.create`), events past tense (`provider.created`).
 */
import { Type as T, type Static } from "@sinclair/typebox";
import type { PluginFields } from "./plugins.ts";
import { PROVIDER_KINDS } from "../../providers/types.ts";
import { GuardrailsFields } from "../../guardrails/config.ts";
import type { CachePolicyFields } from "../../cache/policy.ts";
import type { AlertDestinationFields, AlertRuleFields } from "../../alerts/config.ts";
import type { AdminFields, JwtIssuerFields } from "../../identity/entities.ts";

export const EntityId = T.String({ pattern: "^[a-z0-9][a-z0-9_-]*$", maxLength: 64, description: "Provider id: lower-case letters, digits, `_`, `-`" });

export const ProviderFields = T.Object(
  {
    kind: T.Union(PROVIDER_KINDS.map((k) => T.Literal(k))),
    base_url: T.Optional(T.String({ pattern: "^https?://" })),
    /** Name of an env variable holding the key (kept as a name: no secret in events). */
    api_key_env: T.Optional(T.String({ minLength: 1 })),
    /** AES-256-GCM ciphertext of the key (never the key itself). */
    api_key_enc: T.Optional(T.String({ minLength: 1 })),
    /** Masked key for display, e.g. `sk-…abcd`. */
    api_key_hint: T.Optional(T.String()),
    models: T.Array(T.String({ minLength: 1 })),
    /** Extra upstream headers; with a master key their values are masked here and sealed in `headers_enc` (issue 22). */
    headers: T.Optional(T.Record(T.String(), T.String())),
    headers_enc: T.Optional(T.Union([T.String({ minLength: 1 }), T.Null()])),
    timeout_ms: T.Optional(T.Integer({ minimum: 1 })),
    chunk_delay_ms: T.Optional(T.Integer({ minimum: 0 })),
    /** azure: the `api-version` query parameter. */
    api_version: T.Optional(T.String({ minLength: 1 })),
    /** azure: model id → deployment name. */
    deployments: T.Optional(T.Record(T.String(), T.String({ minLength: 1 }))),
    /** Protect the upstream's quota: requests / tokens per minute through this gateway cluster. */
    rpm_limit: T.Optional(T.Integer({ minimum: 1 })),
    tpm_limit: T.Optional(T.Integer({ minimum: 1 })),
    enabled: T.Boolean(),
    priority: T.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type ProviderFields = Static<typeof ProviderFields>;

export const ModelAliasFields = T.Object(
  { provider: EntityId, model: T.String({ minLength: 1 }) },
  { additionalProperties: false },
);
export type ModelAliasFields = Static<typeof ModelAliasFields>;

export const PriceFields = T.Object(
  {
    input: T.Number({ minimum: 0, description: "USD per 1M input tokens" }),
    output: T.Number({ minimum: 0, description: "USD per 1M output tokens" }),
    cached_input: T.Optional(T.Number({ minimum: 0, description: "USD per 1M cache-read input tokens (default: input)" })),
    cache_write: T.Optional(T.Number({ minimum: 0, description: "USD per 1M cache-write input tokens (default: input)" })),
  },
  { additionalProperties: false },
);
export type PriceFields = Static<typeof PriceFields>;

const RouteTargetFields = T.Object(
  {
    provider: EntityId,
    model: T.String({ minLength: 1 }),
    weight: T.Optional(T.Number({ exclusiveMinimum: 0 })),
    priority: T.Optional(T.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

/** A route: an alias → targets with a strategy, retries, timeouts and breaker settings. */
export const RouteFields = T.Object(
  {
    strategy: T.Union(["priority", "weighted", "round_robin", "least_latency", "lowest_cost", "ab"].map((s) => T.Literal(s))),
    targets: T.Array(RouteTargetFields, { minItems: 1 }),
    /** ab: `percent`% of traffic to `targets[target]`, sticky per user id. */
    ab: T.Optional(T.Object({ percent: T.Number({ minimum: 0, maximum: 100 }), target: T.Integer({ minimum: 0 }) }, { additionalProperties: false })),
    /** Retries per target on retryable errors (default 2). */
    max_retries: T.Optional(T.Integer({ minimum: 0, maximum: 10 })),
    /** Per-attempt timeout until the first byte, ms (default: the provider's, 60 s). */
    attempt_timeout_ms: T.Optional(T.Integer({ minimum: 1 })),
    /** Overall deadline for all attempts and fallbacks, ms (default 120 s). */
    deadline_ms: T.Optional(T.Integer({ minimum: 1 })),
    /** Backoff base and cap, ms (full jitter; defaults 100 and 5000). */
    backoff_base_ms: T.Optional(T.Integer({ minimum: 0 })),
    backoff_max_ms: T.Optional(T.Integer({ minimum: 0 })),
    /** Whether a request may choose the strategy / prefer or exclude providers (default true). */
    allow_request_overrides: T.Optional(T.Boolean()),
  },
  { additionalProperties: false },
);
export type RouteFields = Static<typeof RouteFields>;

/** Circuit-breaker settings for every target (id `default`). */
export const BreakerFields = T.Object(
  {
    window_ms: T.Optional(T.Integer({ minimum: 100, description: "Rolling window, ms (default 30000)" })),
    min_requests: T.Optional(T.Integer({ minimum: 1, description: "Outcomes in the window before it may open (default 5)" })),
    failure_rate: T.Optional(T.Number({ exclusiveMinimum: 0, maximum: 1, description: "Failure rate that opens it (default 0.5)" })),
    open_ms: T.Optional(T.Integer({ minimum: 1, description: "How long it stays open before a half-open probe (default 15000)" })),
  },
  { additionalProperties: false },
);
export type BreakerFields = Static<typeof BreakerFields>;

/** A spending limit in USD per calendar day or month (UTC). */
export const BudgetFields = T.Object(
  {
    amount_usd: T.Number({ minimum: 0, description: "USD per period" }),
    period: T.Union([T.Literal("day"), T.Literal("month")]),
  },
  { additionalProperties: false },
);
export type BudgetFields = Static<typeof BudgetFields>;

/** A tenant (a customer or team): id = a slug. */
export const TenantFields = T.Object(
  {
    name: T.String({ minLength: 1, maxLength: 200 }),
    budget: T.Optional(BudgetFields),
    rpm_limit: T.Optional(T.Integer({ minimum: 1, description: "Requests per minute, whole tenant" })),
    tpm_limit: T.Optional(T.Integer({ minimum: 1, description: "Tokens per minute, whole tenant" })),
    /** Issue 22: models or aliases every key of the tenant may use (a trailing `*` matches a prefix); absent = all, including `provider/<anything>` pass-through. */
    models: T.Optional(T.Array(T.String({ minLength: 1, maxLength: 256 }), { minItems: 1, description: "Allowed models or aliases for every key of the tenant (`*` suffix: prefix); absent = all, including `provider/model` pass-through" })),
    enabled: T.Boolean(),
  },
  { additionalProperties: false },
);
export type TenantFields = Static<typeof TenantFields>;

const IsoTime = T.String({ minLength: 10, maxLength: 40, description: "ISO-8601 time" });
const Sha256Hex = T.String({ pattern: "^[0-9a-f]{64}$", description: "SHA-256 (hex) of a virtual key" });

/**
 * A virtual key (`tg-…`): id = `key_<ulid>`. The key itself is never stored or evented: only
 * its SHA-256 hash and a visible prefix.
 */
export const KeyFields = T.Object(
  {
    tenant: T.String({ minLength: 1 }),
    service: T.Optional(T.String({ minLength: 1, maxLength: 128 })),
    user: T.Optional(T.String({ minLength: 1, maxLength: 256 })),
    /** Unique among a tenant's live (not revoked) keys. */
    name: T.Optional(T.String({ minLength: 1, maxLength: 128 })),
    prefix: T.String({ pattern: "^tg-[0-9A-Za-z]{1,8}$" }),
    hash: Sha256Hex,
    /** Rotation: the previous key's hash, accepted until `previous_valid_until`. */
    previous_hash: T.Optional(Sha256Hex),
    previous_valid_until: T.Optional(IsoTime),
    /** Allowed models or aliases (a trailing `*` matches a prefix); absent = all. */
    models: T.Optional(T.Array(T.String({ minLength: 1 }), { minItems: 1 })),
    rpm_limit: T.Optional(T.Integer({ minimum: 1, description: "Requests per minute for this key" })),
    tpm_limit: T.Optional(T.Integer({ minimum: 1, description: "Tokens per minute for this key" })),
    budget: T.Optional(BudgetFields),
    expires_at: T.Optional(IsoTime),
    revoked_at: T.Optional(IsoTime),
    /** Set once, by whoever issued the create command. */
    created_at: T.Optional(IsoTime),
  },
  { additionalProperties: false },
);
export type KeyFields = Static<typeof KeyFields>;

/**
 * A customer override: the end customer `user_id` (optionally only for one `service`, and
 * optionally only inside one `tenant`) is served by `provider`/`model`. id = `ovr_<random>`.
 */
export const CustomerOverrideFields = T.Object(
  {
    user_id: T.String({ minLength: 1, maxLength: 256, description: "The end customer's id (generate `user_id`, OpenAI `user`, `x-tollgate-user`)" }),
    service: T.Optional(T.String({ minLength: 1, maxLength: 128, description: "Only for this service (absent: every service)" })),
    tenant: T.Optional(T.String({ minLength: 1, maxLength: 64, description: "Only inside this tenant (absent: every tenant)" })),
    provider: EntityId,
    model: T.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);
export type CustomerOverrideFields = Static<typeof CustomerOverrideFields>;

/** Every config entity kind and its fields. */
export interface EntityFields {
  provider: ProviderFields;
  model_alias: ModelAliasFields;
  price: PriceFields;
  /** id = the alias. */
  route: RouteFields;
  /** id = `<tenant>/<alias>` (tenant-wide) or `<tenant>/<service>/<alias>` (one service). */
  route_override: RouteFields;
  /** id = `default`. */
  breaker: BreakerFields;
  /** id = a slug. */
  tenant: TenantFields;
  /** id = `key_<ulid>`. */
  key: KeyFields;
  /** id = `global` or `tenant:<tenant id>` (src/guardrails/config.ts). */
  guardrails: GuardrailsFields;
  /** id = `<plugin>` (global) or `<tenant>/<plugin>`. */
  plugin: PluginFields;
  /** id = `ovr_<random>`; one per (tenant, service, user_id). */
  customer_override: CustomerOverrideFields;
  /** id = `_global` or a tenant id (src/cache/policy.ts). */
  cache_policy: CachePolicyFields;
  // --- alerts (issue 29): src/alerts/config.ts ---
  /** id = a slug. */
  alert_rule: AlertRuleFields;
  /** id = a slug; the signing secret is write-only (sealed into `secret_enc`). */
  alert_destination: AlertDestinationFields;
  // --- end alerts ---
  // ── identity (issue 28): src/identity/entities.ts ──
  /** id = `adm_<ulid>`: a named admin identity (key hash only). */
  admin: AdminFields;
  /** id = a slug: a JWT issuer for service authentication. */
  jwt_issuer: JwtIssuerFields;
}
export type EntityKind = keyof EntityFields;
export const ENTITY_KINDS: readonly EntityKind[] = ["provider", "model_alias", "price", "route", "route_override", "breaker", "tenant", "key", "guardrails", "plugin", "customer_override", "cache_policy", /* alerts (issue 29) */ "alert_rule", "alert_destination", /* identity (issue 28) */ "admin", "jwt_issuer"];

export interface Entity<K extends EntityKind = EntityKind> {
  kind: K;
  id: string;
  /** Number of events applied to this entity (1 after create). */
  version: number;
  fields: EntityFields[K];
  updatedAt: string;
  updatedBy: string;
}

/** The folded configuration: every live entity by kind and id, and the log position. */
export interface ConfigState {
  /** Log position of the last applied event + 1 (0 = nothing applied). */
  version: number;
  entities: { [K in EntityKind]: Record<string, Entity<K>> };
  /** Versions of deleted entities, so a re-create continues the sequence. */
  tombstones: Record<string, number>;
}

export function initialState(): ConfigState {
  return { version: 0, entities: { provider: {}, model_alias: {}, price: {}, route: {}, route_override: {}, breaker: {}, tenant: {}, key: {}, guardrails: {}, plugin: {}, customer_override: {}, cache_policy: {}, /* alerts (issue 29) */ alert_rule: {}, alert_destination: {}, /* identity (issue 28) */ admin: {}, jwt_issuer: {} }, tombstones: {} };
}

/** Commands an admin issues. `expectedVersion` enables optimistic concurrency. */
export type ConfigCommand =
  | { type: "create"; kind: EntityKind; id: string; fields: Record<string, unknown> }
  | { type: "update"; kind: EntityKind; id: string; changes: Record<string, unknown>; expectedVersion?: number }
  | { type: "delete"; kind: EntityKind; id: string; expectedVersion?: number }
  /** Replace a key's secret; the old one stays valid until `previousValidUntil` (ISO). */
  | { type: "rotate"; kind: "key"; id: string; hash: string; prefix: string; previousValidUntil: string; expectedVersion?: number }
  /** Revoke a key at `at` (ISO): rejected from then on, by every instance. */
  | { type: "revoke"; kind: "key" | "admin"; id: string; at: string; expectedVersion?: number };

/** Payload of a config event: `<kind>.created|updated|deleted`. */
export interface ConfigEventPayload {
  kind: EntityKind;
  id: string;
  /** Entity version after this event. */
  version: number;
  /** Full fields after the change (created/updated); absent for deleted. */
  fields?: Record<string, unknown>;
  /** What changed (updated). */
  changes?: Record<string, unknown>;
}

export interface ConfigEvent {
  /** `rotated` and `revoked` are key events (full fields after the change, like `updated`). */
  type: `${EntityKind}.${"created" | "updated" | "deleted" | "rotated" | "revoked"}`;
  payload: ConfigEventPayload;
}
