/**
 * Admin API for config entities (providers, model aliases, prices), the config history and
 * point-in-time views. Every change is a command → events on the `config` stream.
 */
import { Elysia } from "elysia";
import { Type as T } from "@sinclair/typebox";
import { IdentityService } from "../identity/service.ts";
import { actorOf, enterActor } from "../identity/actor.ts";
import { encryptSecret, maskKey } from "../config/secrets.ts";
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
import { entityView, page, parseAt, parsePage, stateView } from "./config-view.ts";

export { entityView, stateView };

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
  /** Admin identities, roles and the permission table (issue 28); absent: the bootstrap key only. */
  identity?: IdentityService;
}

/** The one constant-time comparison of a credential with the admin key (src/identity/admin-keys.ts). */
export { matchesAdminKey } from "../identity/admin-keys.ts";

/**
 * Check the admin credential (`Authorization: Bearer …` or `X-Service-Key`) and the route's
 * permission; returns the actor name. Issue 28: the logic lives in src/identity/service.ts
 * (named admins, roles, the permission table, audit of refusals); this stays a thin call.
 */
export function checkAdmin(deps: Pick<AdminDeps, "adminKey" | "loopback"> & { identity?: IdentityService | undefined }, request: Request): string {
  const identity = deps.identity ?? new IdentityService({ adminKey: deps.adminKey, loopback: deps.loopback });
  const actor = identity.authorize(request);
  enterActor(request, actor); // config events of this request carry the full actor
  return actor.name;
}

/**
 * Run an admin handler: check the admin credential, pass the actor, and turn a GatewayError into
 * its response (other errors go on to the app's error handler).
 */
export async function asAdmin(deps: Pick<AdminDeps, "adminKey" | "loopback" | "identity">, request: Request, fn: (actor: string) => Promise<Response> | Response): Promise<Response> {
  try {
    const res = await fn(checkAdmin(deps, request));
    // The request id the audit trail records for this call (issue 28).
    const id = actorOf(request)?.requestId;
    if (id && !res.headers.has("x-request-id")) res.headers.set("x-request-id", id);
    return res;
  } catch (err) {
    if (err instanceof GatewayError) return errorResponse(err);
    throw err;
  }
}

function historyView(h: HistoryEntry): HistoryEntry {
  const scrub = (o?: Record<string, unknown>) => {
    if (!o) return o;
    const { api_key_enc, secret_enc, headers_enc, ...rest } = o;
    if (rest.headers && typeof rest.headers === "object" && !headers_enc) rest.headers = maskHeaders(rest.headers as Record<string, string>);
    return { ...rest, ...(api_key_enc ? { api_key: "(encrypted)" } : {}), ...(secret_enc ? { secret: "(encrypted)" } : {}) };
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

/**
 * CRUD routes for one entity kind at `path`. `prepare` turns the body's write-only fields into
 * what the decider stores (e.g. a secret into ciphertext) before create / update.
 */
export function entityRoutes(deps: AdminDeps, kind: EntityKind, path: string, tag: string, prepare?: (fields: Record<string, unknown>) => Record<string, unknown>) {
  const seal = (fields: Record<string, unknown>) => (kind === "provider" ? sealKey(deps, fields) : prepare ? prepare(fields) : fields);
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
      return { type: "create", kind, id: String(id ?? ""), fields: seal(fields) };
    }, 201), { body: Body, detail: detail(`Create a ${kind}`, okResponse(EntitySchema, `The ${kind} created`, 201)) })
    .patch(`${path}/:id`, ({ request, params, body }) => run(request, () => {
      const { id: _id, expected_version: _ev, ...changes } = body as Record<string, unknown>;
      const ev = expectedVersion(request, body as Record<string, unknown>);
      return { type: "update", kind, id: params.id, changes: kind === "provider" ? sealKey(deps, changes, (deps.config.state.entities.provider[params.id] as Entity | undefined)?.fields as Record<string, unknown> | undefined) : seal(changes), ...(ev ? { expectedVersion: ev } : {}) };
    }), { params, body: Body, detail: detail(`Change a ${kind}`, one) })
    .delete(`${path}/:id`, ({ request, params }) => run(request, () => {
      const ev = expectedVersion(request, {});
      return { type: "delete", kind, id: params.id, ...(ev ? { expectedVersion: ev } : {}) };
    }), { params, detail: detail(`Delete a ${kind}`, okResponse(DeletedSchema, `The ${kind} is deleted`)) });
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
      const p = parsePage(query);
      const kind = query.entity ?? query.kind;
      const data = await deps.config.history({ ...(kind ? { kind } : {}), ...(query.id ? { id: query.id } : {}) });
      const out = page(data, p);
      return { ...out, data: out.data.map(historyView) };
    }), {
      query: T.Object({
        entity: T.Optional(T.String()),
        kind: T.Optional(T.String()),
        id: T.Optional(T.String()),
        limit: T.Optional(T.String({ description: "How many entries: the newest `limit` (1–1000, default 100) before `before`, returned oldest first" })),
        before: T.Optional(T.String({ description: "A log `position`: only entries before it (pass `next_before` of the previous page)" })),
      }),
      detail: adminDetail("Admin: config", "Who changed what, when (filter by `entity` kind and `id`), paginated newest-first by `limit` + `before`", { ...okResponse(ListOf(AnyObject), "History entries, oldest first; `has_more` and `next_before` for the older page"), ...errorResponses({ 400: "Invalid `limit` or `before` (`invalid_request`)" }) }),
    })
    .get("/api/v1/admin/config", ({ request, query }) => guard(request, async () => {
      if (query.at === undefined) return stateView(deps.config.state);
      const point = parseAt(query.at, deps.config.state.version);
      const state = await deps.config.stateAt(point);
      return stateView(state, "time" in point ? { time: point.time.toISOString() } : { version: point.version });
    }), {
      query: T.Object({ at: T.Optional(T.String({ description: "A config version (integer, as in `config_version`) or an RFC 3339 time: the configuration as it was then" })) }),
      detail: adminDetail("Admin: config", "The current configuration, or as it was `at` a version or time: every entity kind of the config model", { ...okResponse(T.Object({ config_version: T.Integer() }, { additionalProperties: true }), "Every entity by kind"), ...errorResponses({ 400: "Invalid `at` (`invalid_request`, `param: at`)" }) }),
    });
}
