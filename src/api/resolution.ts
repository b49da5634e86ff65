/**
 * GET /api/v1/admin/resolution?model=&tenant=&service=&user_id= (admin): which provider and model
 * a request would reach now, with every level of the resolution order checked
 * (customer+service > customer > tenant+service > tenant > gateway route > alias/model).
 * Reads the live config snapshot; records nothing.
 */
import { Elysia } from "elysia";
import { Type as T } from "@sinclair/typebox";
import { emptySnapshot } from "../config/snapshot.ts";
import { resolution } from "../routing/resolution.ts";
import { type AdminDeps, asAdmin } from "./admin.ts";
import { adminDetail, AnyObject, errorResponses, okResponse } from "./schemas.ts";

export function resolutionRoutes(deps: AdminDeps) {
  return new Elysia({ name: "admin-resolution", normalize: false }).get(
    "/api/v1/admin/resolution",
    ({ request, query }) =>
      asAdmin(deps, request, () => {
        const snapshot = deps.snapshot?.() ?? emptySnapshot();
        const providers = deps.providers.list().map((p) => ({ id: p.id, models: p.models }));
        return Response.json(resolution(snapshot, providers, { model: query.model, tenant: query.tenant ?? "default", ...(query.service ? { service: query.service } : {}), ...(query.user_id ? { user: query.user_id } : {}) }));
      }),
    {
      query: T.Object({
        model: T.String({ minLength: 1, maxLength: 256, description: "The model or alias the request names" }),
        tenant: T.Optional(T.String({ minLength: 1, maxLength: 64, description: "The caller's tenant (default `default`)" })),
        service: T.Optional(T.String({ minLength: 1, maxLength: 128 })),
        user_id: T.Optional(T.String({ minLength: 1, maxLength: 256, description: "The end customer" })),
      }),
      detail: adminDetail("Admin: routes", "Which provider/model a request would reach now, with every resolution level checked", { ...okResponse(AnyObject, "`winner` and `levels` (level, matched, why, targets)"), ...errorResponses({ 400: "Missing or invalid `model`" }) }),
    },
  );
}
