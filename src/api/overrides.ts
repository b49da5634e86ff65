/**
 * Customer overrides at `/api/v1/overrides` (admin key): the end customer `user_id` —
 * optionally for one `service`, optionally inside one `tenant` — is served by
 * `provider`/`model`. Each change is a `customer_override` config command → events on the
 * `config` stream (history: `GET /api/v1/admin/config/history?entity=customer_override`).
 */
import { Elysia } from "elysia";
import { Type as T } from "@sinclair/typebox";
import { randomBytes } from "node:crypto";
import { GatewayError } from "../pipeline/errors.ts";
import type { Entity } from "../projections/config/model.ts";
import { type AdminDeps, asAdmin } from "./admin.ts";
import { errorResponses, jsonContent } from "./schemas.ts";
import { ADMIN_SECURITY } from "./schemas.ts";

export const OverrideCreate = T.Object(
  {
    user_id: T.String({ minLength: 1, maxLength: 256, description: "The end customer's id" }),
    service: T.Optional(T.String({ minLength: 1, maxLength: 128, description: "Only for this service" })),
    tenant: T.Optional(T.String({ minLength: 1, maxLength: 64, description: "Only inside this tenant" })),
    provider: T.String({ minLength: 1, maxLength: 64 }),
    model: T.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);

export const OverrideView = T.Object({
  id: T.String(),
  user_id: T.String(),
  service: T.Union([T.String(), T.Null()]),
  tenant: T.Union([T.String(), T.Null()]),
  provider: T.String(),
  model: T.String(),
  level: T.Union([T.Literal("customer_service"), T.Literal("customer")]),
  version: T.Integer(),
  created_at: T.String(),
  updated_by: T.String(),
});
const OverrideList = T.Object({ object: T.Literal("list"), data: T.Array(OverrideView) });
const Deleted = T.Object({ id: T.String(), deleted: T.Literal(true), config_version: T.Integer() });

export function overrideView(e: Entity<"customer_override">): Record<string, unknown> {
  const f = e.fields;
  return { id: e.id, user_id: f.user_id, service: f.service ?? null, tenant: f.tenant ?? null, provider: f.provider, model: f.model, level: f.service ? "customer_service" : "customer", version: e.version, created_at: e.updatedAt, updated_by: e.updatedBy };
}

export const newOverrideId = () => `ovr_${randomBytes(12).toString("hex")}`;

/**
 * @example
 * app.use(overridesRoutes(deps.admin))
 */
export function overridesRoutes(deps: AdminDeps) {
  const handle = (request: Request, fn: (actor: string) => Promise<Response> | Response) => asAdmin(deps, request, fn);
  const one = (id: string) => deps.config.state.entities.customer_override?.[id];
  const notFound = (id: string) => new GatewayError({ status: 404, code: "not_found", message: `customer override \`${id}\` does not exist` });
  const tags = ["Admin: overrides"];
  const Id = T.Object({ id: T.String({ minLength: 1, maxLength: 64 }) });
  return new Elysia({ name: "admin-overrides", normalize: false })
    .get("/api/v1/overrides", ({ request, query }) => handle(request, () => {
      const data = Object.values(deps.config.state.entities.customer_override ?? {})
        .filter((e) => (query.user_id === undefined || e.fields.user_id === query.user_id) && (query.service === undefined || e.fields.service === query.service) && (query.tenant === undefined || e.fields.tenant === query.tenant))
        .map(overrideView);
      return Response.json({ object: "list", data });
    }), {
      query: T.Object({ user_id: T.Optional(T.String({ maxLength: 256 })), service: T.Optional(T.String({ maxLength: 128 })), tenant: T.Optional(T.String({ maxLength: 64 })) }),
      detail: { security: ADMIN_SECURITY, tags, summary: "List customer overrides (filter by `user_id`, `service`, `tenant`)", responses: { 200: { description: "The overrides", content: jsonContent(OverrideList) }, ...errorResponses({ 400: "Invalid query", 401: "Admin key missing or wrong", 403: "Admin API disabled" }) } },
    })
    .post("/api/v1/overrides", ({ request, body }) => handle(request, async (actor) => {
      const id = newOverrideId();
      await deps.config.execute({ type: "create", kind: "customer_override", id, fields: body as Record<string, unknown> }, actor);
      return Response.json(overrideView(one(id)!), { status: 201 });
    }), {
      body: OverrideCreate,
      detail: { security: ADMIN_SECURITY, tags, summary: "Create a customer override `{ user_id, service?, tenant?, provider, model }`", responses: { 201: { description: "Created", content: jsonContent(OverrideView) }, ...errorResponses({ 400: "Invalid override (`invalid_request`, `invalid_config`, `unknown_provider`, `unknown_tenant`)", 401: "Admin key missing or wrong", 403: "Admin API disabled", 409: "An override for this user_id, service and tenant exists (`already_exists`)" }) } },
    })
    .get("/api/v1/overrides/:id", ({ request, params }) => handle(request, () => {
      const e = one(params.id);
      if (!e) throw notFound(params.id);
      return Response.json(overrideView(e), { headers: { etag: `"${e.version}"` } });
    }), {
      params: Id,
      detail: { security: ADMIN_SECURITY, tags, summary: "Get one customer override", responses: { 200: { description: "The override", content: jsonContent(OverrideView) }, ...errorResponses({ 400: "Invalid id", 401: "Admin key missing or wrong", 403: "Admin API disabled", 404: "No such override" }) } },
    })
    .delete("/api/v1/overrides/:id", ({ request, params }) => handle(request, async (actor) => {
      if (!one(params.id)) throw notFound(params.id);
      const result = await deps.config.execute({ type: "delete", kind: "customer_override", id: params.id }, actor);
      return Response.json({ id: params.id, deleted: true, config_version: result.version });
    }), {
      params: Id,
      detail: { security: ADMIN_SECURITY, tags, summary: "Delete a customer override", responses: { 200: { description: "Deleted", content: jsonContent(Deleted) }, ...errorResponses({ 400: "Invalid id", 401: "Admin key missing or wrong", 403: "Admin API disabled", 404: "No such override" }) } },
    });
}
