/**
 * The config decider: `decide(state, command) → events` (or a GatewayError), and
 * `evolve(state, event) → state`. Pure: no I/O, no clock except what the caller passes.
 */
import type { TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { GatewayError } from "../../pipeline/errors.ts";
import {
  type ConfigCommand,
  type ConfigEvent,
  type ConfigState,
  type Entity,
  ENTITY_KINDS,
  type EntityKind,
  ModelAliasFields,
  PriceFields,
  ProviderFields,
  RouteFields,
  BreakerFields,
  type KeyFields,
  KeyFields as KeySchema,
  TenantFields,
  CustomerOverrideFields,
} from "./model.ts";
import { GUARDRAILS_ID, GuardrailsFields, guardrailsProblem } from "../../guardrails/config.ts";
import { checkPlugin, PLUGIN_ID, type PluginCatalog, PluginFields } from "./plugins.ts";
import { checkCustomerOverride } from "./customer-overrides.ts";
import { CachePolicyFields, embeddingsModelProblem, GLOBAL_POLICY_ID, LOCAL_EMBEDDINGS_MODEL } from "../../cache/policy.ts";
import { ALERT_ID, AlertDestinationFields, AlertRuleFields } from "../../alerts/config.ts";
import { checkAlertEntity } from "../../alerts/check.ts";
import { AdminFields, JwtIssuerFields } from "../../identity/entities.ts";
import { checkIdentityEntity, liveTenantAdmins } from "../../identity/decide.ts";

/** Provider ids are lower-case slugs; aliases look like model names; prices are `<provider>/<model>`. */
const ID_PATTERNS: Record<EntityKind, RegExp> = {
  provider: /^[a-z0-9][a-z0-9_-]{0,63}$/,
  model_alias: /^[A-Za-z0-9][A-Za-z0-9_.:@-]*$/,
  price: /^[a-z0-9][a-z0-9_-]{0,63}\/[^\s/][^\s]*$/,
  route: /^[A-Za-z0-9][A-Za-z0-9_.:@-]*$/,
  route_override: /^[A-Za-z0-9_.:@-]+(\/[A-Za-z0-9_.:@-]+)?\/[A-Za-z0-9][A-Za-z0-9_.:@-]*$/,
  breaker: /^default$/,
  tenant: /^[a-z0-9][a-z0-9_-]{0,63}$/,
  key: /^key_[0-9a-z]{10,40}$/,
  guardrails: GUARDRAILS_ID,
  plugin: PLUGIN_ID,
  customer_override: /^ovr_[0-9a-z]{10,40}$/,
  cache_policy: /^(_global|[a-z0-9][a-z0-9_-]{0,63})$/,
  alert_rule: ALERT_ID, // alerts (issue 29)
  alert_destination: ALERT_ID,
  admin: /^adm_[0-9a-z]{10,40}$/,
  jwt_issuer: /^[a-z0-9][a-z0-9_-]{0,63}$/,
};
const ID_RULES: Record<EntityKind, string> = {
  provider: "lower-case letters, digits, `_` and `-`",
  model_alias: "letters, digits and `_ . : @ -` (no `/`: that form means provider/model)",
  price: "`<provider>/<model>`",
  route: "the alias: letters, digits and `_ . : @ -`",
  route_override: "`<tenant>/<alias>` or `<tenant>/<service>/<alias>`",
  breaker: "`default`",
  tenant: "a slug: lower-case letters, digits, `_` and `-`",
  key: "`key_` and 10 to 40 lower-case letters or digits",
  guardrails: "`global` or `tenant:<tenant id>`",
  plugin: "`<plugin>` or `<tenant>/<plugin>` (lower-case slugs)",
  customer_override: "`ovr_` and 10 to 40 lower-case letters or digits",
  cache_policy: "`_global` or a tenant id",
  alert_rule: "a slug: lower-case letters, digits, `_` and `-`", // alerts (issue 29)
  alert_destination: "a slug: lower-case letters, digits, `_` and `-`",
  admin: "`adm_` and 10 to 40 lower-case letters or digits",
  jwt_issuer: "a slug: lower-case letters, digits, `_` and `-`",
};

const SCHEMAS: Record<EntityKind, TSchema> = { provider: ProviderFields, model_alias: ModelAliasFields, price: PriceFields, route: RouteFields, route_override: RouteFields, breaker: BreakerFields, tenant: TenantFields, key: KeySchema, guardrails: GuardrailsFields, plugin: PluginFields, customer_override: CustomerOverrideFields, cache_policy: CachePolicyFields, alert_rule: AlertRuleFields, alert_destination: AlertDestinationFields, admin: AdminFields, jwt_issuer: JwtIssuerFields };
const DEFAULTS: Record<EntityKind, Record<string, unknown>> = {
  provider: { enabled: true, priority: 0, models: [] },
  model_alias: {},
  price: {},
  route: {},
  route_override: {},
  breaker: {},
  tenant: { enabled: true },
  key: {},
  guardrails: {},
  plugin: {},
  customer_override: {},
  cache_policy: {},
  alert_rule: { enabled: true }, // alerts (issue 29)
  alert_destination: { enabled: true },
  admin: {},
  jwt_issuer: { enabled: true },
};

/** Key fields only `rotate` and `revoke` set (and `tenant`, fixed at create). */
const KEY_MANAGED = ["hash", "prefix", "previous_hash", "previous_valid_until", "revoked_at"] as const;

/** What the decider knows besides the state: providers that exist without config (echo, env keys). */
export interface DecideEnv {
  builtinProviders: ReadonlySet<string>;
  /** Loaded operator plugins (settings schemas), for `plugin` entities. */
  plugins?: PluginCatalog;
}
const NO_BUILTINS: DecideEnv = { builtinProviders: new Set() };

const invalid = (message: string, code = "invalid_config", param?: string) =>
  new GatewayError({ status: 400, code, message, ...(param ? { param } : {}) });
const conflict = (message: string, code: string, details?: Record<string, unknown>) =>
  new GatewayError({ status: 409, code, message, ...(details ? { details } : {}) });

/** Decide which events a command produces against the current state; throws GatewayError. */
export function decide(state: ConfigState, cmd: ConfigCommand, env: DecideEnv = NO_BUILTINS): ConfigEvent[] {
  if (!ENTITY_KINDS.includes(cmd.kind)) throw invalid(`Unknown entity kind \`${String(cmd.kind)}\``, "invalid_config", "kind");
  if (typeof cmd.id !== "string" || !ID_PATTERNS[cmd.kind].test(cmd.id) || cmd.id.length > 128) {
    throw invalid(`Invalid ${cmd.kind} id \`${String(cmd.id)}\`: ${ID_RULES[cmd.kind]}`, "invalid_id", "id");
  }
  const existing = state.entities[cmd.kind][cmd.id] as Entity | undefined;
  switch (cmd.type) {
    case "create": {
      if (existing) throw conflict(`${cmd.kind} \`${cmd.id}\` already exists`, "already_exists");
      if (cmd.kind === "key") refuseManaged(cmd.fields, ["previous_hash", "previous_valid_until", "revoked_at"]);
      if (cmd.kind === "admin") refuseManaged(cmd.fields, ["revoked_at"]);
      const fields = validated(cmd.kind, { ...DEFAULTS[cmd.kind], ...stripNulls(cmd.fields) });
      checkReferences(state, env, cmd.kind, cmd.id, fields);
      const version = (state.tombstones[key(cmd.kind, cmd.id)] ?? 0) + 1;
      return [{ type: `${cmd.kind}.created`, payload: { kind: cmd.kind, id: cmd.id, version, fields } }];
    }
    case "update": {
      if (!existing) throw notFound(cmd.kind, cmd.id);
      checkExpected(existing, cmd.expectedVersion);
      if (cmd.kind === "key") {
        refuseRevoked(existing as Entity<"key">);
        refuseManaged(cmd.changes, ["tenant", "created_at", ...KEY_MANAGED]);
      }
      if (cmd.kind === "admin") {
        if ((existing as Entity<"admin">).fields.revoked_at) throw conflict(`admin \`${cmd.id}\` was revoked`, "admin_revoked");
        refuseManaged(cmd.changes, ["hash", "prefix", "created_at", "revoked_at"]);
      }
      const merged = stripNulls({ ...existing.fields, ...cmd.changes });
      const fields = validated(cmd.kind, merged);
      checkReferences(state, env, cmd.kind, cmd.id, fields);
      const changes = Object.fromEntries(
        Object.entries(cmd.changes)
          .map(([k, v]): [string, unknown] => [k, v === null || v === undefined ? v : fields[k]]) // as validated (e.g. normalized times)
          .filter(([k, v]) => JSON.stringify((existing.fields as Record<string, unknown>)[k]) !== JSON.stringify(v ?? undefined)),
      );
      if (Object.keys(changes).length === 0) return []; // nothing to record
      return [{ type: `${cmd.kind}.updated`, payload: { kind: cmd.kind, id: cmd.id, version: existing.version + 1, fields, changes } }];
    }
    case "delete": {
      if (!existing) throw notFound(cmd.kind, cmd.id);
      checkExpected(existing, cmd.expectedVersion);
      if (cmd.kind === "key") throw invalid("Keys are revoked, not deleted: `DELETE /api/v1/admin/keys/{id}` revokes", "invalid_request");
      if (cmd.kind === "admin") throw invalid("Admin identities are revoked, not deleted", "invalid_request");
      if (cmd.kind === "tenant") {
        const users = Object.values(state.entities.key).filter((k) => k.fields.tenant === cmd.id && !k.fields.revoked_at).map((k) => k.id);
        if (users.length) throw conflict(`tenant \`${cmd.id}\` has live keys: ${users.join(", ")} (revoke them first)`, "entity_in_use", { used_by: users });
        const admins = liveTenantAdmins(state, cmd.id);
        if (admins.length) throw conflict(`tenant \`${cmd.id}\` has live tenant admins: ${admins.join(", ")} (revoke them first)`, "entity_in_use", { used_by: admins });
      }
      if (cmd.kind === "provider") {
        const users = Object.values(state.entities.model_alias).filter((a) => a.fields.provider === cmd.id).map((a) => a.id);
        for (const o of Object.values(state.entities.customer_override)) if (o.fields.provider === cmd.id) users.push(`customer_override:${o.id}`);
        for (const k of ["route", "route_override"] as const) {
          for (const r of Object.values(state.entities[k]) as Entity<"route">[]) {
            if (r.fields.targets.some((t) => t.provider === cmd.id)) users.push(`${k}:${r.id}`);
          }
        }
        if (users.length) throw conflict(`provider \`${cmd.id}\` is in use by: ${users.join(", ")}`, "entity_in_use", { used_by: users });
      }
      return [{ type: `${cmd.kind}.deleted`, payload: { kind: cmd.kind, id: cmd.id, version: existing.version + 1 } }];
    }
    case "rotate": {
      const key = existingKey(state, cmd.id, cmd.expectedVersion);
      if (cmd.hash === key.fields.hash) throw conflict("The new key hash equals the current one", "already_exists");
      const previousValidUntil = isoTime(cmd.previousValidUntil, "previous_valid_until");
      const changes = { hash: cmd.hash, prefix: cmd.prefix, previous_hash: key.fields.hash, previous_valid_until: previousValidUntil };
      const fields = validated("key", { ...key.fields, ...changes });
      checkReferences(state, env, "key", cmd.id, fields);
      return [{ type: "key.rotated", payload: { kind: "key", id: cmd.id, version: key.version + 1, fields, changes } }];
    }
    case "revoke": {
      const key = state.entities[cmd.kind][cmd.id] as Entity<"key" | "admin"> | undefined;
      if (!key) throw notFound(cmd.kind, cmd.id);
      checkExpected(key, cmd.expectedVersion);
      if (key.fields.revoked_at) return []; // already revoked: nothing new to record
      const changes = { revoked_at: isoTime(cmd.at, "revoked_at") };
      return [{ type: `${cmd.kind}.revoked`, payload: { kind: cmd.kind, id: cmd.id, version: key.version + 1, fields: { ...key.fields, ...changes }, changes } }];
    }
    default: {
      const never: never = cmd;
      throw invalid(`Unknown command ${JSON.stringify(never)}`);
    }
  }
}

/** Fold one event into the state (returns a new state; the input is not mutated). */
export function evolve(state: ConfigState, event: ConfigEvent, meta: { time: string; actor: string; position: number }): ConfigState {
  const { kind, id, version } = event.payload;
  // Audit-only facts (failed sign-ins, refusals) share the stream but change no entity.
  if (!ENTITY_KINDS.includes(kind)) return { ...state, version: meta.position + 1 };
  const byKind = { ...state.entities[kind] } as Record<string, Entity>;
  const tombstones = { ...state.tombstones };
  if (event.type.endsWith(".deleted")) {
    delete byKind[id];
    tombstones[key(kind, id)] = version;
  } else {
    byKind[id] = { kind, id, version, fields: event.payload.fields as never, updatedAt: meta.time, updatedBy: meta.actor };
    delete tombstones[key(kind, id)];
  }
  return { version: meta.position + 1, entities: { ...state.entities, [kind]: byKind }, tombstones };
}

function validated(kind: EntityKind, fields: Record<string, unknown>): Record<string, unknown> {
  const schema = SCHEMAS[kind];
  const first = [...Value.Errors(schema, fields)][0];
  if (first) {
    const param = first.path.replace(/^\//, "").replace(/\//g, ".");
    throw invalid(`Invalid ${kind}${param ? ` \`${param}\`` : ""}: ${first.message}`, "invalid_config", param || undefined);
  }
  if (kind === "key" || kind === "admin") {
    for (const f of ["expires_at", "previous_valid_until", "revoked_at", "created_at"] as const) {
      if (fields[f] !== undefined) fields[f] = isoTime(fields[f], f);
    }
  }
  if (kind === "provider" && (fields.kind === "custom" || fields.kind === "azure") && !fields.base_url) {
    throw invalid(`A ${String(fields.kind)} provider needs \`base_url\``, "invalid_config", "base_url");
  }
  return fields;
}

function checkReferences(state: ConfigState, env: DecideEnv, kind: EntityKind, id: string, fields: Record<string, unknown>): void {
  const known = (provider: string) => Boolean(state.entities.provider[provider]) || env.builtinProviders.has(provider);
  if (kind === "route" || kind === "route_override") {
    const f = fields as RouteFields;
    f.targets.forEach((t, i) => {
      if (!known(t.provider)) throw invalid(`Unknown provider \`${t.provider}\` in targets[${i}]`, "unknown_provider", `targets.${i}.provider`);
    });
    if (f.strategy === "ab" && (!f.ab || f.ab.target >= f.targets.length)) throw invalid("An `ab` route needs `ab: { percent, target }` naming one of its targets", "invalid_config", "ab");
  }
  if (kind === "model_alias" && !known(fields.provider as string)) {
    throw invalid(`Unknown provider \`${String(fields.provider)}\``, "unknown_provider", "provider");
  }
  if (kind === "key") checkKey(state, id, fields as KeyFields);
  if (kind === "guardrails") checkGuardrails(state, id, fields as GuardrailsFields);
  if (kind === "plugin") checkPlugin(state, env.plugins, id, fields as PluginFields);
  if (kind === "customer_override") checkCustomerOverride(state, id, fields as CustomerOverrideFields, known);
  if (kind === "cache_policy" && id !== GLOBAL_POLICY_ID && id !== "default" && !state.entities.tenant[id]) {
    throw invalid(`Unknown tenant \`${id}\``, "unknown_tenant", "tenant_id");
  }
  if (kind === "cache_policy") checkSemantic(state, env, fields as CachePolicyFields);
  if (kind === "alert_rule" || kind === "alert_destination") checkAlertEntity(state, kind, fields); // alerts (issue 29)
  if (kind === "admin" || kind === "jwt_issuer") checkIdentityEntity(state, kind, id, fields);
  if (kind === "price") {
    const provider = id.split("/")[0] ?? "";
    if (!id.includes("/") || !known(provider)) {
      throw invalid(`A price id is \`<provider>/<model>\` for a known provider; got \`${id}\``, "unknown_provider", "id");
    }
  }
}

/** A tenant's guardrails need the tenant; every blocklist regex must compile under RE2. */
function checkGuardrails(state: ConfigState, id: string, f: GuardrailsFields): void {
  if (id.startsWith("tenant:") && !state.entities.tenant[id.slice(7)]) throw invalid(`Unknown tenant \`${id.slice(7)}\``, "unknown_tenant", "tenant_id");
  const problem = guardrailsProblem(f);
  if (problem) throw invalid(problem.message, "invalid_config", problem.param);
}

/** A key's tenant exists; its name is unique among the tenant's live keys; its hash is new. */
function checkKey(state: ConfigState, id: string, f: KeyFields): void {
  if (!state.entities.tenant[f.tenant]) throw invalid(`Unknown tenant \`${f.tenant}\``, "unknown_tenant", "tenant_id");
  for (const other of Object.values(state.entities.key)) {
    if (other.id === id) continue;
    if (f.name !== undefined && other.fields.tenant === f.tenant && other.fields.name === f.name && !other.fields.revoked_at) {
      // An invalid command (the issue's rule): 400, nothing appended.
      throw new GatewayError({ status: 400, code: "duplicate_key_name", message: `tenant \`${f.tenant}\` already has a key named \`${f.name}\` (${other.id})`, param: "name", details: { key_id: other.id } });
    }
    if (other.fields.hash === f.hash || other.fields.previous_hash === f.hash) throw conflict("This key hash is already in use", "already_exists");
  }
  if ((f.previous_hash === undefined) !== (f.previous_valid_until === undefined)) {
    throw invalid("`previous_hash` and `previous_valid_until` go together", "invalid_config", "previous_hash");
  }
}

/** An enabled semantic tier needs a model that resolves to a target offering embeddings. */
function checkSemantic(state: ConfigState, env: DecideEnv, f: CachePolicyFields): void {
  const s = f.semantic;
  if (!s?.enabled) return;
  // Left out or `local`: the built-in local embedder (issue 31), nothing to resolve.
  if (s.embeddings_model === undefined || s.embeddings_model === LOCAL_EMBEDDINGS_MODEL) return;
  const aliases = Object.fromEntries(Object.values(state.entities.model_alias).map((a) => [a.id, { provider: a.fields.provider }]));
  // Built-in providers (echo, openai from the env) have their id as their kind.
  const kindOf = (id: string) => state.entities.provider[id]?.fields.kind ?? (env.builtinProviders.has(id) ? id : undefined);
  const problem = embeddingsModelProblem(s.embeddings_model, aliases, kindOf);
  if (problem) throw invalid(`\`semantic.embeddings_model\`: ${problem}`, "embeddings_model_invalid", "semantic.embeddings_model");
}

function existingKey(state: ConfigState, id: string, expected: number | undefined): Entity<"key"> {
  const key = state.entities.key[id];
  if (!key) throw notFound("key", id);
  checkExpected(key, expected);
  refuseRevoked(key);
  return key;
}

function refuseRevoked(key: Entity<"key">): void {
  if (key.fields.revoked_at) throw conflict(`key \`${key.id}\` was revoked at ${key.fields.revoked_at}`, "key_revoked");
}

function refuseManaged(fields: Record<string, unknown>, names: readonly string[]): void {
  const hit = names.find((n) => n in fields);
  if (hit) throw invalid(`\`${hit}\` cannot be set directly (it is fixed at create, or set by rotate / revoke)`, "invalid_config", hit);
}

/** An ISO-8601 time, normalized (`2026-01-01T00:00:00.000Z`). */
function isoTime(v: unknown, param: string): string {
  const ms = typeof v === "string" && /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw invalid(`\`${param}\` must be an ISO-8601 time`, "invalid_config", param);
  return new Date(ms).toISOString();
}

function checkExpected(entity: Entity, expected: number | undefined): void {
  if (expected !== undefined && expected !== entity.version) {
    throw conflict(`${entity.kind} \`${entity.id}\` is at version ${entity.version}, not ${expected}`, "version_conflict", { current_version: entity.version });
  }
}

function notFound(kind: EntityKind, id: string): GatewayError {
  return new GatewayError({ status: 404, code: "not_found", message: `${kind} \`${id}\` does not exist` });
}

function stripNulls(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
}

const key = (kind: EntityKind, id: string) => `${kind}:${id}`;
