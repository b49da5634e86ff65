/**
 * OpenAI Responses API: POST /v1/responses (JSON or SSE), GET / DELETE /v1/responses/{id},
 * GET /v1/responses/{id}/input_items, and the admin purge DELETE /api/v1/admin/tenants/{id}/responses.
 *
 * The request is translated to the canonical chat request at the edge (src/canonical/
 * responses-request.ts) and runs through the same pipeline as /v1/chat/completions; the
 * canonical answer comes back as a Response object or the Responses event stream. Providers
 * that speak Responses (OpenAI, Azure OpenAI) get the request in Responses format (see
 * plugins/provider-call.ts). With `store` (default true) the response and its input items are
 * kept per tenant in the StateStore (responses-store.ts); `previous_response_id` continues
 * from them, and another tenant's id is not found.
 */
import type { IdentityService } from "../identity/service.ts";
import { Elysia } from "elysia";
import { Type as T } from "@sinclair/typebox";
import type { ConfigSnapshot } from "../config/snapshot.ts";
import { type ResponseItem, ResponsesRequest, newId } from "../canonical/responses.ts";
import { toCanonical, type TranslatedRequest } from "../canonical/responses-request.ts";
import { fromCanonical, responseShell } from "../canonical/responses-output.ts";
import { ResponsesStreamWriter } from "../canonical/responses-stream.ts";
import { GatewayError, toGatewayError } from "../pipeline/errors.ts";
import { uuidv7 } from "../events/uuidv7.ts";
import { authenticate, credentialFrom } from "../plugins/auth.ts";
import { asAdmin } from "./admin.ts";
import { errorResponse } from "./http.ts";
import { type GatewayDeps, recordRejected, runGateway, sseResponse } from "./gateway.ts";
import { metaFrom, responseHeaders } from "./openai.ts";
import { conversationOf, type ResponsesStore } from "./responses-store.ts";
import { ADMIN_SECURITY, errorResponses, IdParams, jsonOrSse, KEY_SECURITY, Loose, MODEL_CALL_ERRORS, okResponse } from "./schemas.ts";

export interface ResponsesDeps extends GatewayDeps {
  responses: ResponsesStore;
  loopback: boolean;
  adminKey: string | undefined;
  /** Named admins and roles (issue 28): the purge is `tenant.write`. */
  identity?: IdentityService | undefined;
}

const ENDPOINT = "responses";
const notFound = (id: string, param?: string) =>
  new GatewayError({ status: 404, type: "invalid_request_error", code: "response_not_found", message: `No stored response with id \`${id}\``, ...(param ? { param } : {}) });

/** The caller's tenant, by the same pure check the auth plugin makes (the pipeline checks again). */
function tenantOf(deps: { config: () => ConfigSnapshot; loopback: boolean }, request: Request): { ok: true; tenant: string } | { ok: false; error: GatewayError } {
  const d = authenticate(deps.config().tenancy, credentialFrom(request.headers), { loopback: deps.loopback, now: Date.now() });
  return d.ok ? { ok: true, tenant: d.tenantId } : { ok: false, error: new GatewayError({ status: d.status, code: d.code, message: d.message }) };
}

/** Query strings, checked in the handler after the key (a bad value is 400 `invalid_request` with `param`). */
const ListQuery = T.Object(
  {
    limit: T.Optional(T.String({ description: "Items, 1–100 (default 20)" })),
    order: T.Optional(T.String({ description: "`asc` or `desc` (default)" })),
    after: T.Optional(T.String({ maxLength: 256, description: "An item id: list the items after it" })),
  },
  { additionalProperties: true },
);
const badQuery = (param: string, message: string) => new GatewayError({ status: 400, code: "invalid_request", message, param });
const ResponseSchema = Loose({ id: T.String(), object: T.Literal("response"), status: T.String() });

export function responsesRoutes(deps: ResponsesDeps) {
  return new Elysia({ name: "responses-routes", normalize: false })
    .post(
      "/v1/responses",
      async ({ body, request }) => {
        const who = tenantOf(deps, request);
        const previousId = body.previous_response_id ?? null;
        let history: ResponseItem[] = [];
        let translated: TranslatedRequest;
        try {
          if (previousId && who.ok) {
            const previous = await deps.responses.get(who.tenant, previousId);
            if (!previous) throw notFound(previousId, "previous_response_id");
            history = conversationOf(previous);
          }
          translated = who.ok ? toCanonical(body, history) : { chat: { model: body.model, messages: [{ role: "user", content: "" }] }, items: [], checks: [] };
        } catch (err) {
          const error = toGatewayError(err);
          const requestId = uuidv7();
          recordRejected(deps, requestId, body.model, ENDPOINT, error);
          return errorResponse(error, { "x-request-id": requestId });
        }
        const chat = translated.chat;
        const out = await runGateway(deps, request, { endpoint: ENDPOINT, request: chat, meta: metaFrom(request, chat), responses: { request: body, checks: translated.checks } });
        const headers = responseHeaders(out.ctx);
        if (!out.ok) return errorResponse(out.error, headers);
        const store = body.store !== false;
        const shell = responseShell(body, { id: newId("resp"), createdAt: Math.floor(Date.now() / 1000), previousResponseId: previousId, store });
        const tenant = out.ctx.principal.tenant;
        const keep = async (response: typeof shell) => {
          if (store) await deps.responses.put(tenant, { response, input: translated.items, history });
        };
        const result = out.result;
        if (result.kind === "stream") {
          const w = new ResponsesStreamWriter(shell);
          const write = (c: Parameters<typeof w.write>[0]) => w.write(c);
          const error = (e: GatewayError) => w.error(e);
          if (!store) return sseResponse(out.ctx, result.chunks, { write, end: () => w.end(), error }, headers);
          // Stored: the Response is kept before `response.completed` goes out (a client may GET it right after).
          let closing = "";
          const chunks = result.chunks;
          async function* stored() {
            yield* chunks;
            closing = w.end(); // every chunk was written: the Response is complete
            const final = w.result();
            if (final) await keep(final);
          }
          return sseResponse(out.ctx, stored(), { write, end: () => closing, error }, headers);
        }
        if (result.kind !== "response") throw new Error(`/v1/responses cannot render a \`${result.kind}\` answer`);
        const response = fromCanonical(result.response, shell);
        await keep(response);
        return Response.json(response, { headers });
      },
      {
        body: ResponsesRequest,
        detail: {
          tags: ["OpenAI-compatible"],
          summary: "Create a model response (OpenAI Responses API)",
          description:
            "OpenAI's Responses API in front of any provider. Providers that speak Responses (OpenAI, Azure OpenAI) receive it in Responses format with unknown fields passed through; " +
            "for every other provider it is translated to the canonical chat request and back (a field the target cannot honour answers 400 with `param`). " +
            "With `stream: true` the answer is the Responses event stream (`response.created` … `response.completed`, each with `sequence_number`). " +
            "With `store` (default true) the response and its input items are kept for the tenant (TTL `TOLLGATE_RESPONSES_TTL_SECONDS`) and `previous_response_id` continues from them.",
          responses: {
            ...jsonOrSse(ResponseSchema, "A `response` object, or an SSE stream of Responses events"),
            ...errorResponses({ ...MODEL_CALL_ERRORS, 404: "`previous_response_id` not found for this tenant" }),
          },
          security: KEY_SECURITY,
        },
      },
    )
    .get(
      "/v1/responses/:id",
      async ({ request, params }) => {
        const who = tenantOf(deps, request);
        if (!who.ok) return errorResponse(who.error);
        const record = await deps.responses.get(who.tenant, params.id);
        return record ? Response.json(record.response) : errorResponse(notFound(params.id));
      },
      {
        params: IdParams,
        detail: {
          tags: ["OpenAI-compatible"],
          summary: "Get a stored response",
          security: KEY_SECURITY,
          responses: { ...okResponse(ResponseSchema, "The stored `response`"), ...errorResponses({ 401: "Virtual key missing or wrong", 403: "Key or tenant disabled", 404: "No such response for this tenant" }) },
        },
      },
    )
    .delete(
      "/v1/responses/:id",
      async ({ request, params }) => {
        const who = tenantOf(deps, request);
        if (!who.ok) return errorResponse(who.error);
        if (!(await deps.responses.delete(who.tenant, params.id))) return errorResponse(notFound(params.id));
        return Response.json({ id: params.id, object: "response", deleted: true });
      },
      {
        params: IdParams,
        detail: {
          tags: ["OpenAI-compatible"],
          summary: "Delete a stored response (and its input items)",
          security: KEY_SECURITY,
          responses: {
            ...okResponse(T.Object({ id: T.String(), object: T.Literal("response"), deleted: T.Literal(true) }), "Deleted"),
            ...errorResponses({ 401: "Virtual key missing or wrong", 403: "Key or tenant disabled", 404: "No such response for this tenant" }),
          },
        },
      },
    )
    .get(
      "/v1/responses/:id/input_items",
      async ({ request, params, query }) => {
        const who = tenantOf(deps, request);
        if (!who.ok) return errorResponse(who.error);
        const record = await deps.responses.get(who.tenant, params.id);
        if (!record) return errorResponse(notFound(params.id));
        const limit = query.limit === undefined ? 20 : Number(query.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 100) return errorResponse(badQuery("limit", "`limit` is an integer from 1 to 100"));
        if (query.order !== undefined && query.order !== "asc" && query.order !== "desc") return errorResponse(badQuery("order", "`order` is `asc` or `desc`"));
        let items = [...record.history, ...record.input];
        if (query.order !== "asc") items.reverse();
        if (query.after) {
          const at = items.findIndex((i) => i.id === query.after);
          if (at < 0) return errorResponse(badQuery("after", "`after` names no item of this response"));
          items = items.slice(at + 1);
        }
        const data = items.slice(0, limit);
        return Response.json({ object: "list", data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: items.length > limit });
      },
      {
        params: IdParams,
        query: ListQuery,
        detail: {
          tags: ["OpenAI-compatible"],
          summary: "List the input items of a stored response (earlier turns included)",
          security: KEY_SECURITY,
          responses: {
            ...okResponse(Loose({ object: T.Literal("list"), data: T.Array(Loose({ type: T.String() })), has_more: T.Boolean() }), "The input items"),
            ...errorResponses({ 400: "Bad `after`, `limit` or `order`", 401: "Virtual key missing or wrong", 403: "Key or tenant disabled", 404: "No such response for this tenant" }),
          },
        },
      },
    )
    .delete(
      "/api/v1/admin/tenants/:id/responses",
      ({ request, params }) =>
        asAdmin(deps, request, async () => Response.json({ tenant: params.id, purged: await deps.responses.purge(params.id) })),
      {
        params: IdParams,
        detail: {
          tags: ["Tenancy"],
          summary: "Erase every stored Responses API response (and input items) of a tenant",
          security: ADMIN_SECURITY,
          responses: {
            ...okResponse(T.Object({ tenant: T.String(), purged: T.Integer() }), "How many stored responses were erased"),
            ...errorResponses({ 401: "Admin key missing or wrong", 403: "Not allowed" }),
          },
        },
      },
    );
}

