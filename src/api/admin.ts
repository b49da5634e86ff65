/**
 * Admin API for config entities (providers, model aliases, prices), the config history and
 * point-in-time views. Every change is a command → events on the `config` stream.
 */
import { Elysia } from "elysia";
import { Type as T } from "@sinclair/typebox";
import { createHash, timingSafeEqual } from "node:crypto";
import { checkProviderSecrets, DEFAULT_PROVIDER_ENV_PREFIX, maskHeaders, type ProviderEnvPolicy, sealProviderHeaders, sealProviderKey } from "./provider-secrets.ts";
import { GatewayError } from "../pipeline/errors.ts";
import type { ConfigCommand, ConfigState, Entity, EntityKind } from "../projections/config/model.ts";
import type { ConfigService, HistoryEntry } from "../projections/config/service.ts";
import { errorResponse } from "./http.ts";
import type { ProviderLookup } from "../pipeline/context.ts";
import { toGatewayError } from "../pipeline/errors.ts";
import { AnyObject, adminDetail, DeletedSchema, EntitySchema, errorResponses, IdParams, jsonContent, ListOf, okResponse, objectOrNone, OptionalBody, type Responses } from "./schemas.ts";
import type { ConfigSnapshot } from "../config/snapshot.ts";
import { EffectivePriceList, effectivePrices, PriceQuery } from "./prices.ts";

export interface AdminDeps {
  config: ConfigService;
  /** The admin key; undefined = admin API disabled (main.ts always sets one). */
  adminKey: string | undefined;
  loopback: boolean;
  /** Master key for provider API keys (undefined: literal keys are refused). */
  masterKey: Buffer | undefined;
  /** The live adapters (for the connectivity test). */
  providers: ProviderLookup;
  /** Which env variables `api_key_env` may name (default: prefix TOLLGATE_PROVIDER_, no allow-list). */
  providerEnv?: ProviderEnvPolicy;
  /** The live config snapshot (effective prices: `GET /api/v1/prices?provider=&model=`). */
  snapshot?: () => ConfigSnapshot;
}

/** The one constant-time comparison of a credential with the admin key (digests: equal lengths, no length leak). */
export function matchesAdminKey(adminKey: string | undefined, given: string | undefined): boolean {
  if (!adminKey || given === undefined) return false;
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(given), digest(adminKey));
}

/** Check the admin credential (`Authorization: Bearer …` or `X-Service-Key`). Returns the actor name. */
export function checkAdmin(deps: Pick<AdminDeps, "adminKey" | "loopback">, request: Request): string {
  const given = request.headers.get("x-service-key") ?? /^Bearer\s+(.+)$/i.exec(request.headers.get("authorization") ?? "")?.[1]?.trim();
  // Never an admin API without a key, loopback or not (issue 22): main.ts always resolves one
  // (TOLLGATE_ADMIN_KEY or the generated <data dir>/admin.key); no key here means disabled.
  if (!deps.adminKey) throw new GatewayError({ status: 403, code: "admin_disabled", message: "The admin API is disabled: set TOLLGATE_ADMIN_KEY" });
  if (!given) throw new GatewayError({ status: 401, code: "missing_admin_key", message: "The admin API needs the admin key (Authorization: Bearer … or X-Service-Key)" });
  if (!matchesAdminKey(deps.adminKey, given)) throw new GatewayError({ status: 401, code: "invalid_admin_key", message: "Invalid admin key" });
  return "admin";
}

/**
 * Run an admin handler: check the admin credential, pass the actor, and turn a GatewayError into
 * its response (other errors go on to the app's error handler).
 */
export async function asAdmin(deps: Pick<AdminDeps, "adminKey" | "loopback">, request: Request, fn: (actor: string) => Promise<Response> | Response): Promise<Response> {
  try {
    return await fn(checkAdmin(deps, request));
  } catch (err) {
    if (err instanceof GatewayError) return errorResponse(err);
    throw err;
  }
}

/** The public view of an entity: secrets replaced by a masked hint. */
export function entityView(e: Entity): Record<string, unknown> {
  const { api_key_enc: _enc, api_key_hint, headers_enc: _henc, ...fields } = e.fields as Record<string, unknown>;
  // Header values are masked like keys (stored masked when sealed; masked here when stored in clear, before a master key).
  if (fields.headers && typeof fields.headers === "object" && !_henc) fields.headers = maskHeaders(fields.headers as Record<string, string>);
  return { id: e.id, ...fields, ...(api_key_hint ? { api_key: api_key_hint } : {}), version: e.version, updated_at: e.updatedAt, updated_by: e.updatedBy };
}

function historyView(h: HistoryEntry): HistoryEntry {
  const scrub = (o?: Record<string, unknown>) => {
    if (!o) return o;
    const { api_key_enc, headers_enc, ...rest } = o;
    if (rest.headers && typeof rest.headers === "object" && !headers_enc) rest.headers = maskHeaders(rest.headers as Record<string, string>);
    return api_key_enc ? { ...rest, api_key: "(encrypted)" } : rest;
  };
  const out = { ...h };
  if (h.fields) out.fields = scrub(h.fields)!;
  if (h.changes) out.changes = scrub(h.changes)!;
  return out;
}

/**
 * Provider secrets (see provider-secrets.ts): check `api_key_env` and `base_url` changes, and
 * turn a literal `api_key` into ciphertext bound to the base URL + hint before the decider.
 */
function sealKey(deps: AdminDeps, body: Record<string, unknown>, existing?: Record<string, unknown>): Record<string, unknown> {
  checkProviderSecrets(deps.providerEnv ?? { prefix: DEFAULT_PROVIDER_ENV_PREFIX, allow: [] }, body, existing);
  const baseUrl = "base_url" in body ? body.base_url : existing?.base_url;
  if (body.headers && typeof body.headers === "object" && deps.masterKey) {
    // Headers may carry credentials: sealed like keys, only masked values stay readable.
    body = { ...body, ...sealProviderHeaders(body.headers as Record<string, string>, deps.masterKey, baseUrl) };
  } else if ("headers" in body && existing?.headers_enc) body = { ...body, headers_enc: null }; // replaced by headers in clear (no master key)
  // A new base_url with a key variable instead of a key: the stored key (sealed to the old URL) goes.
  if (existing?.api_key_enc && "base_url" in body && body.base_url !== existing.base_url && !("api_key" in body)) body = { ...body, api_key_enc: null, api_key_hint: null };
  if (!("api_key" in body)) return body;
  const { api_key, ...rest } = body;
  if (api_key === null) return { ...rest, api_key_enc: null, api_key_hint: null };
  if (typeof api_key !== "string" || api_key.length === 0) throw new GatewayError({ status: 400, code: "invalid_config", message: "`api_key` must be a non-empty string", param: "api_key" });
  if (!deps.masterKey) throw new GatewayError({ status: 400, code: "master_key_missing", message: "Set TOLLGATE_MASTER_KEY to store provider keys (or use api_key_env)", param: "api_key" });
  return { ...rest, ...sealProviderKey(api_key, deps.masterKey, baseUrl) };
}

function expectedVersion(request: Request, body: Record<string, unknown>): number | undefined {
  const header = request.headers.get("if-match")?.replace(/"/g, "").trim();
  const raw = header ?? body.expected_version;
  if (raw === undefined || raw === null || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new GatewayError({ status: 400, code: "invalid_request", message: "expected version (If-Match / expected_version) must be a positive integer" });
  return n;
}

const Body = T.Record(T.String(), T.Unknown());

/** CRUD routes for one entity kind at `path`. */
function entityRoutes(deps: AdminDeps, kind: EntityKind, path: string, tag: string) {
  const run = async (request: Request, build: (actor: string) => ConfigCommand, status = 200) => {
    try {
      const actor = checkAdmin(deps, request);
      const cmd = build(actor);
      const result = await deps.config.execute(cmd, actor);
      const entity = deps.config.state.entities[kind][cmd.id] as Entity | undefined;
      const body = cmd.type === "delete" ? { id: cmd.id, deleted: true, config_version: result.version } : { ...entityView(entity!), config_version: result.version };
      return Response.json(body, { status, headers: entity ? { etag: `"${entity.version}"` } : {} });
    } catch (err) {
      if (err instanceof GatewayError) return errorResponse(err);
      throw err;
    }
  };
  const getOne = (request: Request, id: string) => {
    try {
      checkAdmin(deps, request);
      const e = deps.config.state.entities[kind][id] as Entity | undefined;
      if (!e) throw new GatewayError({ status: 404, code: "not_found", message: `${kind} \`${id}\` does not exist` });
      return Response.json(entityView(e), { headers: { etag: `"${e.version}"` } });
    } catch (err) {
      if (err instanceof GatewayError) return errorResponse(err);
      throw err;
    }
  };
  const errs = errorResponses({ 400: "Invalid command (`invalid_config`, `invalid_request`, `invalid_json`)", 404: "No such entity (`not_found`)", 409: "Already exists, version conflict, or in use" });
  const detail = (summary: string, ok: Responses) => adminDetail(tag, summary, { ...ok, ...errs });
  const one = okResponse(EntitySchema, `The ${kind}`);
  // Ids are checked by the decider (400 invalid_id) or not found (404) after the admin check:
  // a pattern here would answer 400 before a caller without the admin key gets its 401.
  const params = IdParams;
  return new Elysia({ name: `admin-${kind}`, normalize: false })
    .get(path, ({ request, query }) => {
      try {
        checkAdmin(deps, request);
        const q = query as Record<string, string | undefined>;
        if (kind === "price" && deps.snapshot && (q.provider !== undefined || q.model !== undefined)) return Response.json(effectivePrices(deps.snapshot(), q.provider, q.model));
        return Response.json({ object: "list", data: Object.values(deps.config.state.entities[kind]).map((e) => entityView(e as Entity)), config_version: deps.config.state.version });
      } catch (err) {
        if (err instanceof GatewayError) return errorResponse(err);
        throw err;
      }
    }, kind === "price"
      ? { query: PriceQuery, detail: detail("List price entities, or with `provider` and/or `model` the effective prices (price entity, else the bundled catalog) and their source", { 200: { description: "Price entities, or effective prices", content: jsonContent(EffectivePriceList) }, ...errorResponses({ 400: "Invalid query", 404: "Unknown provider (`provider_not_found`) or nobody knows the price (`price_not_found`)" }) }) }
      : { detail: detail(`List ${kind}s`, okResponse(ListOf(EntitySchema), `The ${kind}s`)) })
    .get(`${path}/:id`, ({ request, params }) => getOne(request, params.id), { params, detail: detail(`Get one ${kind}`, one) })
    .post(path, ({ request, body }) => run(request, () => {
      const { id, expected_version: _ev, ...fields } = body as Record<string, unknown>;
      return { type: "create", kind, id: String(id ?? ""), fields: kind === "provider" ? sealKey(deps, fields) : fields };
    }, 201), { body: Body, detail: detail(`Create a ${kind}`, okResponse(EntitySchema, `The ${kind} created`, 201)) })
    .patch(`${path}/:id`, ({ request, params, body }) => run(request, () => {
      const { id: _id, expected_version: _ev, ...changes } = body as Record<string, unknown>;
      const ev = expectedVersion(request, body as Record<string, unknown>);
      return { type: "update", kind, id: params.id, changes: kind === "provider" ? sealKey(deps, changes, (deps.config.state.entities.provider[params.id] as Entity | undefined)?.fields as Record<string, unknown> | undefined) : changes, ...(ev ? { expectedVersion: ev } : {}) };
    }), { params, body: Body, detail: detail(`Change a ${kind}`, one) })
    .delete(`${path}/:id`, ({ request, params }) => run(request, () => {
      const ev = expectedVersion(request, {});
      return { type: "delete", kind, id: params.id, ...(ev ? { expectedVersion: ev } : {}) };
    }), { params, detail: detail(`Delete a ${kind}`, okResponse(DeletedSchema, `The ${kind} is deleted`)) });
}

/** The configuration state as an API view. */
export function stateView(state: ConfigState, at?: string): Record<string, unknown> {
  const list = (k: EntityKind) => Object.values(state.entities[k]).map((e) => entityView(e as Entity));
  return {
    config_version: state.version,
    ...(at ? { at } : {}),
    providers: list("provider"),
    models: list("model_alias"),
    prices: list("price"),
    routes: list("route"),
    route_overrides: list("route_override"),
    breakers: list("breaker"),
    tenants: list("tenant"),
    // Keys: never a secret nor a hash in this view, the prefix identifies them.
    keys: list("key").map(({ hash: _h, previous_hash: _p, ...k }) => k),
    guardrails: list("guardrails"),
  };
}

export function adminRoutes(deps: AdminDeps) {
  const guard = async (request: Request, fn: () => Promise<unknown> | unknown) => {
    try {
      checkAdmin(deps, request);
      return Response.json(await fn());
    } catch (err) {
      if (err instanceof GatewayError) return errorResponse(err);
      throw err;
    }
  };
  return new Elysia({ name: "admin-routes", normalize: false })
    .use(entityRoutes(deps, "provider", "/api/v1/providers", "Admin: providers"))
    .use(entityRoutes(deps, "model_alias", "/api/v1/models", "Admin: model aliases"))
    .use(entityRoutes(deps, "price", "/api/v1/prices", "Admin: prices"))
    .use(entityRoutes(deps, "route", "/api/v1/routes", "Admin: routes"))
    .use(entityRoutes(deps, "route_override", "/api/v1/route-overrides", "Admin: routes"))
    .use(entityRoutes(deps, "breaker", "/api/v1/breakers", "Admin: routes"))
    .post("/api/v1/providers/:id/test", ({ request, params, body }) => guard(request, async () => {
      objectOrNone(body);
      const id = params.id;
      const provider = deps.providers.get(id);
      if (!provider) throw new GatewayError({ status: 404, code: "not_found", message: `provider \`${id}\` does not exist or is disabled` });
      const model = typeof (body as { model?: unknown } | undefined)?.model === "string" ? (body as { model: string }).model : provider.models[0];
      if (!model) throw new GatewayError({ status: 400, code: "invalid_request", message: "The provider lists no models: pass `model`", param: "model" });
      const t0 = performance.now();
      try {
        const res = await provider.complete({ model, messages: [{ role: "user", content: "ping" }], max_tokens: 1 }, { model, signal: AbortSignal.timeout(15_000), timeoutMs: 15_000 });
        return { ok: true, provider: id, model, latency_ms: Math.round(performance.now() - t0), usage: res.usage ?? null };
      } catch (err) {
        const e = toGatewayError(err);
        return { ok: false, provider: id, model, latency_ms: Math.round(performance.now() - t0), error: e.toBody().error };
      }
    }), {
      params: IdParams,
      body: OptionalBody(T.Object({ model: T.Optional(T.String({ minLength: 1 })) })),
      detail: adminDetail("Admin: providers", "Check a provider's connectivity with a 1-token completion (`ok`, latency, or the normalized error)", {
        ...okResponse(T.Object({ ok: T.Boolean(), provider: T.String(), model: T.String(), latency_ms: T.Integer() }, { additionalProperties: true }), "The outcome of the test call (`ok: false` with the normalized `error` when it failed)"),
        ...errorResponses({ 400: "Invalid body, or the provider lists no models", 404: "No such provider (`not_found`)" }),
      }),
    })
    .get("/api/v1/admin/config/history", ({ request, query }) => guard(request, async () => {
      const limit = query.limit ? Number(query.limit) : undefined;
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new GatewayError({ status: 400, code: "invalid_request", message: "`limit` must be a positive integer", param: "limit" });
      const kind = query.entity ?? query.kind;
      const data = await deps.config.history({ ...(kind ? { kind } : {}), ...(query.id ? { id: query.id } : {}), ...(limit ? { limit } : {}) });
      return { object: "list", data: data.map(historyView) };
    }), {
      query: T.Object({ entity: T.Optional(T.String()), kind: T.Optional(T.String()), id: T.Optional(T.String()), limit: T.Optional(T.String()) }),
      detail: adminDetail("Admin: config", "Who changed what, when (filter by `entity` kind and `id`)", { ...okResponse(ListOf(AnyObject), "History entries, oldest first"), ...errorResponses({ 400: "Invalid `limit` (`invalid_request`)" }) }),
    })
    .get("/api/v1/admin/config", ({ request, query }) => guard(request, async () => {
      if (!query.at) return stateView(deps.config.state);
      const at = new Date(query.at);
      if (Number.isNaN(at.getTime())) throw new GatewayError({ status: 400, code: "invalid_request", message: "`at` must be an ISO-8601 time", param: "at" });
      return stateView(await deps.config.stateAt(at), at.toISOString());
    }), {
      query: T.Object({ at: T.Optional(T.String({ description: "ISO-8601 time: the configuration as it was then" })) }),
      detail: adminDetail("Admin: config", "The current configuration, or as it was `at` a time", { ...okResponse(T.Object({ config_version: T.Integer() }, { additionalProperties: true }), "Every entity by kind"), ...errorResponses({ 400: "Invalid `at` (`invalid_request`)" }) }),
    });
}
