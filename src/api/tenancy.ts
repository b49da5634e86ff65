/**
 * Admin API for tenants and virtual keys (under `/api/v1/admin`, admin key required). Every
 * change is a config command → events on the `config` stream, like providers and routes.
 *
 * A key is generated here, shown once in the create / rotate response, and handed to the
 * decider only as its SHA-256 hash and visible prefix: it never reaches an event or the store.
 */
import { Elysia } from "elysia";
import { Type as T } from "@sinclair/typebox";
import { generateKey, hashKey, keyPrefix, newKeyId } from "../config/keys.ts";
import { GatewayError } from "../pipeline/errors.ts";
import type { ConfigCommand, Entity } from "../projections/config/model.ts";
import { type AdminDeps, asAdmin } from "./admin.ts";
import { adminDetail, DeletedSchema, EntitySchema, errorResponses, IdParams, ListOf, okResponse, objectOrNone, OptionalBody, type Responses } from "./schemas.ts";

// Ids are checked after the admin check (see admin.ts): the params schema bounds their length only.
const TenantId = IdParams;
const KeyId = IdParams;

/** Default and longest grace for a rotated key's previous secret, seconds. */
export const DEFAULT_GRACE_SECONDS = 3600;
const MAX_GRACE_SECONDS = 30 * 24 * 3600;
/** Body fields only the gateway sets. */
const KEY_SERVER_FIELDS = ["key", "hash", "prefix", "created_at", "tenant"] as const;

type Json = Record<string, unknown>;

/** A tenant id from its name: `Acme Corp.` → `acme-corp`. */
export function slugify(name: string): string {
  return name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+/, "")
    .slice(0, 64)
    .replace(/-+$/, "");
}

export function tenantView(e: Entity<"tenant">): Json {
  return { id: e.id, ...e.fields, version: e.version, updated_at: e.updatedAt, updated_by: e.updatedBy };
}

/** A key as admins see it: prefix only, never the hash (nor, of course, the key). */
export function keyView(e: Entity<"key">, now = Date.now()): Json {
  const { hash: _h, previous_hash: _ph, tenant, ...fields } = e.fields;
  return { id: e.id, tenant_id: tenant, ...fields, status: keyStatus(e, now), version: e.version, updated_at: e.updatedAt, updated_by: e.updatedBy };
}

export function keyStatus(e: Entity<"key">, now = Date.now()): "active" | "revoked" | "expired" {
  if (e.fields.revoked_at) return "revoked";
  if (e.fields.expires_at && Date.parse(e.fields.expires_at) <= now) return "expired";
  return "active";
}

function expectedVersion(request: Request, body: Json): number | undefined {
  const raw = request.headers.get("if-match")?.replace(/"/g, "").trim() ?? body.expected_version;
  if (raw === undefined || raw === null || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new GatewayError({ status: 400, code: "invalid_request", message: "expected version (If-Match / expected_version) must be a positive integer" });
  return n;
}

const invalid = (message: string, param: string) => new GatewayError({ status: 400, code: "invalid_config", message, param });
const notFound = (kind: string, id: string) => new GatewayError({ status: 404, code: "not_found", message: `${kind} \`${id}\` does not exist` });

const Body = T.Record(T.String(), T.Unknown());
const RotateBody = OptionalBody(T.Object({ grace_seconds: T.Optional(T.Integer({ minimum: 0, maximum: MAX_GRACE_SECONDS, description: "How long the old key keeps working (default 3600)" })) }, { additionalProperties: true }));

/**
 * Tenants and keys.
 *
 * @example
 * app.use(tenancyRoutes(deps.admin))
 */
export function tenancyRoutes(deps: AdminDeps) {
  const handle = (request: Request, fn: (actor: string) => Promise<Response> | Response) => asAdmin(deps, request, fn);
  const exec = (cmd: ConfigCommand, actor: string) => deps.config.execute(cmd, actor);
  const tenant = (id: string) => deps.config.state.entities.tenant[id];
  const key = (id: string) => deps.config.state.entities.key[id];
  const json = (body: Json, status: number, version?: number) => Response.json(body, { status, headers: version ? { etag: `"${version}"` } : {} });
  const detail = (tag: string, summary: string, codes: Record<number, string> = {}, ok: Responses = okResponse(EntitySchema, "The entity")) =>
    adminDetail(tag, summary, { ...ok, ...errorResponses({ 400: "Invalid command (`invalid_config`, `invalid_id`, `unknown_tenant`, `invalid_json`)", 404: "No such entity (`not_found`)", 409: "Conflict", ...codes }) });
  const list = okResponse(ListOf(EntitySchema), "The entities");
  const created = okResponse(EntitySchema, "The entity created", 201);
  const withKey = (status: number) => okResponse(T.Intersect([EntitySchema, T.Object({ key: T.String({ description: "The new key, shown this once" }) })]), "The key, with its secret shown this once", status);

  return new Elysia({ name: "admin-tenancy", normalize: false })
    // ── tenants ────────────────────────────────────────────────────────────────
    .get("/api/v1/admin/tenants", ({ request }) => handle(request, () => {
      const data = Object.values(deps.config.state.entities.tenant).map(tenantView);
      return Response.json({ object: "list", data, config_version: deps.config.state.version });
    }), { detail: detail("Admin: tenants", "List tenants", {}, list) })
    .post("/api/v1/admin/tenants", ({ request, body }) => handle(request, async (actor) => {
      const { id, expected_version: _ev, ...fields } = (body ?? {}) as Json;
      if (typeof fields.name !== "string" || fields.name.trim() === "") throw invalid("A tenant needs a `name`", "name");
      const tenantId = id === undefined || id === null ? slugify(fields.name) : String(id);
      const result = await exec({ type: "create", kind: "tenant", id: tenantId, fields }, actor);
      const e = tenant(tenantId)!;
      return json({ ...tenantView(e), config_version: result.version }, 201, e.version);
    }), { body: Body, detail: detail("Admin: tenants", "Create a tenant: `{id?, name, budget?: {amount_usd, period: day|month}, rpm_limit?, tpm_limit?, enabled?}` (id defaults to a slug of the name)", {}, created) })
    .get("/api/v1/admin/tenants/:id", ({ request, params }) => handle(request, () => {
      const id = params.id;
      const e = tenant(id);
      if (!e) throw notFound("tenant", id);
      return json(tenantView(e), 200, e.version);
    }), { params: TenantId, detail: detail("Admin: tenants", "Get one tenant") })
    .patch("/api/v1/admin/tenants/:id", ({ request, params, body }) => handle(request, async (actor) => {
      const id = params.id;
      const { id: _id, expected_version: _ev, ...changes } = (body ?? {}) as Json;
      const ev = expectedVersion(request, (body ?? {}) as Json);
      const result = await exec({ type: "update", kind: "tenant", id, changes, ...(ev ? { expectedVersion: ev } : {}) }, actor);
      const e = tenant(id)!;
      return json({ ...tenantView(e), config_version: result.version }, 200, e.version);
    }), { params: TenantId, body: Body, detail: detail("Admin: tenants", "Change a tenant (`null` removes a field; `enabled: false` refuses its keys with 403 `tenant_disabled`)") })
    .delete("/api/v1/admin/tenants/:id", ({ request, params }) => handle(request, async (actor) => {
      const id = params.id;
      const ev = expectedVersion(request, {});
      const result = await exec({ type: "delete", kind: "tenant", id, ...(ev ? { expectedVersion: ev } : {}) }, actor);
      return json({ id, deleted: true, config_version: result.version }, 200);
    }), { params: TenantId, detail: detail("Admin: tenants", "Delete a tenant (409 `entity_in_use` while it has live keys)", {}, okResponse(DeletedSchema, "The tenant is deleted")) })

    // ── keys ───────────────────────────────────────────────────────────────────
    .get("/api/v1/admin/keys", ({ request, query }) => handle(request, () => {
      const now = Date.now();
      const data = Object.values(deps.config.state.entities.key)
        .filter((e) => !query.tenant_id || e.fields.tenant === query.tenant_id)
        .map((e) => keyView(e, now));
      return Response.json({ object: "list", data, config_version: deps.config.state.version });
    }), {
      query: T.Object({ tenant_id: T.Optional(T.String()) }),
      detail: detail("Admin: keys", "List keys (prefix only: never the key or its hash), optionally of one tenant", {}, list),
    })
    .post("/api/v1/admin/keys", ({ request, body }) => handle(request, async (actor) => {
      const { tenant_id, expected_version: _ev, id: _id, ...rest } = (body ?? {}) as Json;
      const given = KEY_SERVER_FIELDS.find((f) => f in rest);
      if (given) throw invalid(`\`${given}\` is set by the gateway`, given);
      if (typeof tenant_id !== "string" || tenant_id === "") throw invalid("A key needs a `tenant_id`", "tenant_id");
      const secret = generateKey();
      const id = newKeyId();
      const fields = { ...rest, tenant: tenant_id, hash: hashKey(secret), prefix: keyPrefix(secret), created_at: new Date().toISOString() };
      const result = await exec({ type: "create", kind: "key", id, fields }, actor);
      const e = key(id)!;
      return json({ ...keyView(e), key: secret, config_version: result.version }, 201, e.version);
    }), {
      body: Body,
      detail: detail("Admin: keys", "Create a virtual key: `{tenant_id, service?, user?, name?, models?, rpm_limit?, tpm_limit?, budget?: {amount_usd, period}, expires_at?}` → the key, shown this once", { 400: "`duplicate_key_name`, `invalid_config`, `unknown_tenant`" }, withKey(201)),
    })
    .get("/api/v1/admin/keys/:id", ({ request, params }) => handle(request, () => {
      const id = params.id;
      const e = key(id);
      if (!e) throw notFound("key", id);
      return json(keyView(e), 200, e.version);
    }), { params: KeyId, detail: detail("Admin: keys", "Get one key (prefix only)") })
    .patch("/api/v1/admin/keys/:id", ({ request, params, body }) => handle(request, async (actor) => {
      const id = params.id;
      const { id: _id, expected_version: _ev, ...changes } = (body ?? {}) as Json;
      const ev = expectedVersion(request, (body ?? {}) as Json);
      const result = await exec({ type: "update", kind: "key", id, changes, ...(ev ? { expectedVersion: ev } : {}) }, actor);
      const e = key(id)!;
      return json({ ...keyView(e), config_version: result.version }, 200, e.version);
    }), { params: KeyId, body: Body, detail: detail("Admin: keys", "Change a key's name, service, user, models, limits, budget or expiry (`null` removes a field)", { 400: "`duplicate_key_name`", 409: "`key_revoked`, `version_conflict`" }) })
    .post("/api/v1/admin/keys/:id/rotate", ({ request, params, body }) => handle(request, async (actor) => {
      const id = params.id;
      const b = (objectOrNone(body) ?? {}) as Json;
      const grace = b.grace_seconds ?? DEFAULT_GRACE_SECONDS;
      if (typeof grace !== "number" || !Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_SECONDS) {
        throw invalid(`\`grace_seconds\` must be an integer from 0 to ${MAX_GRACE_SECONDS}`, "grace_seconds");
      }
      const secret = generateKey();
      const previousValidUntil = new Date(Date.now() + grace * 1000).toISOString();
      const ev = expectedVersion(request, b);
      const result = await exec({ type: "rotate", kind: "key", id, hash: hashKey(secret), prefix: keyPrefix(secret), previousValidUntil, ...(ev ? { expectedVersion: ev } : {}) }, actor);
      const e = key(id)!;
      return json({ ...keyView(e), key: secret, config_version: result.version }, 201, e.version);
    }), {
      params: KeyId,
      body: RotateBody,
      detail: detail("Admin: keys", "Rotate a key: a new key (shown this once); the old one keeps working for `grace_seconds` (default 3600)", { 409: "`key_revoked`" }, withKey(201)),
    })
    .delete("/api/v1/admin/keys/:id", ({ request, params }) => handle(request, async (actor) => {
      const id = params.id;
      const ev = expectedVersion(request, {});
      const result = await exec({ type: "revoke", kind: "key", id, at: new Date().toISOString(), ...(ev ? { expectedVersion: ev } : {}) }, actor);
      const e = key(id)!;
      return json({ ...keyView(e), revoked: true, config_version: result.version }, 200, e.version);
    }), { params: KeyId, detail: detail("Admin: keys", "Revoke a key (every instance refuses it within a second); revoking twice is harmless") });
}
