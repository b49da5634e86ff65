/**
 * Admin API for identity (issue 28): named admin identities (`/api/v1/admin/admins`), JWT
 * issuers (`/api/v1/admin/jwt-issuers`), the audit trail (`/api/v1/admin/audit`) and
 * `GET /api/v1/admin/whoami`. Permissions: src/identity/permissions.ts.
 *
 * An admin key is generated here and shown once; only its hash and prefix reach the decider.
 */
import { Elysia } from "elysia";
import { Type as T } from "@sinclair/typebox";
import { GatewayError } from "../pipeline/errors.ts";
import type { ConfigCommand, Entity } from "../projections/config/model.ts";
import { actorOf } from "../identity/actor.ts";
import { adminKeyPrefix, generateAdminKey, hashAdminKey, newAdminId } from "../identity/admin-keys.ts";
import { auditPage } from "../identity/audit.ts";
import { ROLES } from "../identity/entities.ts";
import { PERMISSIONS, permissionsOf } from "../identity/permissions.ts";
import { type AdminDeps, asAdmin } from "./admin.ts";
import { adminDetail, DeletedSchema, EntitySchema, errorResponses, IdParams, ListOf, Loose, okResponse } from "./schemas.ts";

type Json = Record<string, unknown>;
const Body = T.Record(T.String(), T.Unknown());
const invalid = (message: string, param: string) => new GatewayError({ status: 400, code: "invalid_config", message, param });
const notFound = (kind: string, id: string) => new GatewayError({ status: 404, code: "not_found", message: `${kind} \`${id}\` does not exist` });
const ERRS = errorResponses({ 400: "Invalid command (`invalid_config`, `invalid_id`, `unknown_tenant`, `duplicate_admin_name`)", 404: "No such entity (`not_found`)", 409: "Conflict (`already_exists`, `admin_revoked`, `version_conflict`)" });

/** An admin identity as the API shows it: prefix only, never the hash (nor the key). */
export function adminView(e: Entity<"admin">): Json {
  const { hash: _h, ...fields } = e.fields;
  return { id: e.id, ...fields, status: e.fields.revoked_at ? "revoked" : "active", version: e.version, updated_at: e.updatedAt, updated_by: e.updatedBy };
}

function issuerView(e: Entity<"jwt_issuer">): Json {
  return { id: e.id, ...e.fields, version: e.version, updated_at: e.updatedAt, updated_by: e.updatedBy };
}

const AuditQuery = T.Object({
  actor: T.Optional(T.String({ maxLength: 256, description: "An identity id (`adm_…`, `bootstrap`) or name" })),
  entity: T.Optional(T.String({ maxLength: 256, description: "An entity kind (`route`), kind and id (`route:gpt-fast`), or `audit` for refusals and failed sign-ins" })),
  from: T.Optional(T.String({ description: "ISO-8601: entries at or after" })),
  to: T.Optional(T.String({ description: "ISO-8601: entries at or before" })),
  limit: T.Optional(T.String({ description: "1 to 1000 (default 100)" })),
  cursor: T.Optional(T.String({ description: "`next_cursor` of the previous page" })),
});

function time(v: string | undefined, param: string): Date | undefined {
  if (v === undefined || v === "") return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new GatewayError({ status: 400, code: "invalid_request", message: `\`${param}\` must be an ISO-8601 time`, param });
  return d;
}
function int(v: string | undefined, param: string, min: number, max: number): number | undefined {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new GatewayError({ status: 400, code: "invalid_request", message: `\`${param}\` must be an integer from ${min} to ${max}`, param });
  return n;
}

export function identityRoutes(deps: AdminDeps) {
  const handle = (request: Request, fn: (actor: string) => Promise<Response> | Response) => asAdmin(deps, request, fn);
  const exec = (cmd: ConfigCommand, actor: string) => deps.config.execute(cmd, actor);
  const admin = (id: string) => deps.config.state.entities.admin[id];
  const issuer = (id: string) => deps.config.state.entities.jwt_issuer[id];
  const json = (body: Json, status = 200) => Response.json(body, { status });
  const withKey = (status: number) => okResponse(T.Intersect([EntitySchema, T.Object({ key: T.Optional(T.String({ description: "The admin key, shown this once (absent for an `oidc` identity)" })) })]), "The identity, with its key shown this once", status);

  return new Elysia({ name: "admin-identity", normalize: false })
    // ── admin identities ──────────────────────────────────────────────────────
    .get("/api/v1/admin/admins", ({ request }) => handle(request, () => json({ object: "list", data: Object.values(deps.config.state.entities.admin).map(adminView), config_version: deps.config.state.version })), {
      detail: adminDetail("Admin: identities", "List admin identities (key prefix only)", { ...okResponse(ListOf(EntitySchema), "The identities") }),
    })
    .post("/api/v1/admin/admins", ({ request, body }) => handle(request, async (actor) => {
      const { name, role, tenant, oidc, ...rest } = (body ?? {}) as Json;
      const extra = Object.keys(rest)[0];
      if (extra) throw invalid(`Unknown field \`${extra}\` (an admin is \`{name, role, tenant?, oidc?}\`)`, extra);
      if (typeof name !== "string" || name.trim() === "") throw invalid("An admin needs a `name`", "name");
      if (typeof role !== "string" || !(ROLES as readonly string[]).includes(role)) throw invalid(`\`role\` is one of ${ROLES.join(", ")}`, "role");
      // With `oidc` the identity signs in with an ID token only: no admin key is made.
      const secret = oidc === undefined ? generateAdminKey() : undefined;
      const id = newAdminId();
      const fields = { name, role, ...(tenant !== undefined ? { tenant } : {}), ...(oidc !== undefined ? { oidc } : {}), ...(secret ? { hash: hashAdminKey(secret), prefix: adminKeyPrefix(secret) } : {}), created_at: new Date().toISOString() };
      const result = await exec({ type: "create", kind: "admin", id, fields }, actor);
      return json({ ...adminView(admin(id)!), ...(secret ? { key: secret } : {}), config_version: result.version }, 201);
    }), {
      body: Body,
      detail: adminDetail("Admin: identities", "Create a named admin: `{name, role: owner|operator|analyst|tenant_admin, tenant?}` → its admin key (`tga-…`), shown this once; or `{…, oidc: {issuer: <jwt issuer id>, subject: <sub>}}`: signs in with that issuer's ID token (no key)", { ...withKey(201), ...ERRS }),
    })
    .get("/api/v1/admin/admins/:id", ({ request, params }) => handle(request, () => {
      const e = admin(params.id);
      if (!e) throw notFound("admin", params.id);
      return json(adminView(e));
    }), { params: IdParams, detail: adminDetail("Admin: identities", "Get one admin identity", { ...okResponse(EntitySchema, "The identity"), ...ERRS }) })
    .patch("/api/v1/admin/admins/:id", ({ request, params, body }) => handle(request, async (actor) => {
      const { name, role, tenant, ...rest } = (body ?? {}) as Json;
      const extra = Object.keys(rest)[0];
      if (extra) throw invalid(`\`${extra}\` cannot be changed (name, role and tenant can)`, extra);
      const changes = { ...(name !== undefined ? { name } : {}), ...(role !== undefined ? { role } : {}), ...(tenant !== undefined ? { tenant } : {}) };
      const result = await exec({ type: "update", kind: "admin", id: params.id, changes }, actor);
      return json({ ...adminView(admin(params.id)!), config_version: result.version });
    }), { params: IdParams, body: Body, detail: adminDetail("Admin: identities", "Change an admin's name, role or tenant (`null` removes the tenant)", { ...okResponse(EntitySchema, "The identity"), ...ERRS }) })
    .delete("/api/v1/admin/admins/:id", ({ request, params }) => handle(request, async (actor) => {
      const result = await exec({ type: "revoke", kind: "admin", id: params.id, at: new Date().toISOString() }, actor);
      return json({ ...adminView(admin(params.id)!), revoked: true, config_version: result.version });
    }), { params: IdParams, detail: adminDetail("Admin: identities", "Revoke an admin identity: its key is refused by every instance within a second; revoking twice is harmless", { ...okResponse(EntitySchema, "The revoked identity"), ...ERRS }) })

    // ── JWT issuers ───────────────────────────────────────────────────────────
    .get("/api/v1/admin/jwt-issuers", ({ request }) => handle(request, () => json({ object: "list", data: Object.values(deps.config.state.entities.jwt_issuer).map(issuerView), config_version: deps.config.state.version })), {
      detail: adminDetail("Admin: JWT issuers", "List JWT issuers", { ...okResponse(ListOf(EntitySchema), "The issuers") }),
    })
    .post("/api/v1/admin/jwt-issuers", ({ request, body }) => handle(request, async (actor) => {
      const { id, ...fields } = (body ?? {}) as Json;
      const result = await exec({ type: "create", kind: "jwt_issuer", id: String(id ?? ""), fields }, actor);
      return json({ ...issuerView(issuer(String(id))!), config_version: result.version }, 201);
    }), {
      body: Body,
      detail: adminDetail("Admin: JWT issuers", "Add a JWT issuer: `{id, issuer, audience, jwks_url | public_keys, algorithms?, clock_skew_seconds?, tenant? | claims.tenant, tenant_map?, claims?, rpm_limit?, tpm_limit?, budget?}`", { ...okResponse(EntitySchema, "The issuer", 201), ...ERRS }),
    })
    .get("/api/v1/admin/jwt-issuers/:id", ({ request, params }) => handle(request, () => {
      const e = issuer(params.id);
      if (!e) throw notFound("jwt_issuer", params.id);
      return json(issuerView(e));
    }), { params: IdParams, detail: adminDetail("Admin: JWT issuers", "Get one JWT issuer", { ...okResponse(EntitySchema, "The issuer"), ...ERRS }) })
    .patch("/api/v1/admin/jwt-issuers/:id", ({ request, params, body }) => handle(request, async (actor) => {
      const { id: _id, ...changes } = (body ?? {}) as Json;
      const result = await exec({ type: "update", kind: "jwt_issuer", id: params.id, changes }, actor);
      return json({ ...issuerView(issuer(params.id)!), config_version: result.version });
    }), { params: IdParams, body: Body, detail: adminDetail("Admin: JWT issuers", "Change a JWT issuer (`null` removes a field)", { ...okResponse(EntitySchema, "The issuer"), ...ERRS }) })
    .delete("/api/v1/admin/jwt-issuers/:id", ({ request, params }) => handle(request, async (actor) => {
      const result = await exec({ type: "delete", kind: "jwt_issuer", id: params.id }, actor);
      return json({ id: params.id, deleted: true, config_version: result.version });
    }), { params: IdParams, detail: adminDetail("Admin: JWT issuers", "Delete a JWT issuer (its tokens are refused from then on)", { ...okResponse(DeletedSchema, "The issuer is deleted"), ...ERRS }) })

    // ── audit, whoami ─────────────────────────────────────────────────────────
    .get("/api/v1/admin/audit", ({ request, query }) => handle(request, async () => {
      const limit = int(query.limit, "limit", 1, 1000) ?? 100;
      const before = int(query.cursor, "cursor", 0, Number.MAX_SAFE_INTEGER);
      const from = time(query.from, "from");
      const to = time(query.to, "to");
      const page = auditPage(await deps.config.records(), { limit, ...(before !== undefined ? { before } : {}), ...(from ? { from } : {}), ...(to ? { to } : {}), ...(query.actor ? { actor: query.actor } : {}), ...(query.entity ? { entity: query.entity } : {}) });
      return json({ object: "list", ...page });
    }), {
      query: AuditQuery,
      detail: adminDetail("Admin: audit", "The audit trail, newest first: every config change with its actor (identity, role, credential, IP, user agent, request id), failed admin sign-ins and permission refusals; filters `actor`, `entity`, `from`, `to`; `cursor` pages on", { ...okResponse(Loose({ object: T.Literal("list"), data: T.Array(Loose({})), next_cursor: T.Union([T.String(), T.Null()]) }), "One page of entries"), ...errorResponses({ 400: "Invalid filter (`invalid_request`)" }) }),
    })
    .get("/api/v1/admin/whoami", ({ request }) => handle(request, () => {
      const a = actorOf(request)!;
      const permissions = permissionsOf(a.role).map((p) => ({ permission: p, description: PERMISSIONS[p].description, ...(a.role === "tenant_admin" && PERMISSIONS[p].tenantScoped ? { tenant: a.tenant } : {}) }));
      return json({ id: a.id, name: a.name, role: a.role, tenant: a.tenant ?? null, credential: a.credential, permissions });
    }), { detail: adminDetail("Admin: identities", "Who the admin credential is, its role and what it may do", { ...okResponse(Loose({ id: T.String(), name: T.String(), role: T.String(), permissions: T.Array(Loose({})) }), "The identity") }) });
}
