/**
 * OpenAI-compatible routes: POST /v1/chat/completions (JSON or SSE) and GET /v1/models.
 */
import { Elysia } from "elysia";
import { Type as T } from "@sinclair/typebox";
import { ChatCompletionRequest, type ChatCompletionChunk } from "../canonical/chat.ts";
import type { Ctx } from "../pipeline/context.ts";
import { GatewayError as GatewayErrorClass, type GatewayError } from "../pipeline/errors.ts";
import { listModels } from "./models-list.ts";
import { errorResponse } from "./http.ts";
import { type GatewayDeps, runGateway, sseResponse } from "./gateway.ts";
import { errorResponses, jsonOrSse, KEY_SECURITY, Loose, MODEL_CALL_ERRORS, okResponse } from "./schemas.ts";
import { checkIdentifier } from "../canonical/limits.ts";
import { checkAnyCredential, type OperatorAccess } from "./operator-access.ts";

/** Request attributes a service may send as headers (or in the body's `metadata`). */
export function metaFrom(request: Request, body: ChatCompletionRequest): Ctx["meta"] {
  const h = request.headers;
  const meta: Ctx["meta"] = {};
  const service = h.get("x-tollgate-service") ?? body.metadata?.service;
  const taskType = h.get("x-tollgate-task-type") ?? body.metadata?.task_type;
  const user = h.get("x-tollgate-user") ?? body.user;
  checkIdentifier(h.get("x-tollgate-service") !== null ? "x-tollgate-service" : "metadata.service", service);
  checkIdentifier(h.get("x-tollgate-task-type") !== null ? "x-tollgate-task-type" : "metadata.task_type", taskType);
  checkIdentifier("x-tollgate-user", user);
  if (service) meta.service = service;
  if (taskType) meta.taskType = taskType;
  if (user) meta.user = user;
  return meta;
}

export function responseHeaders(ctx: Ctx): Record<string, string> {
  const headers: Record<string, string> = { ...ctx.responseHeaders, "x-request-id": ctx.requestId };
  if (ctx.target) {
    headers["x-tollgate-provider"] = ctx.target.provider.id;
    headers["x-tollgate-model"] = ctx.target.model;
    // The quick check of what routing did (the request explorer has the whole story): upstream
    // attempts made (retries included, 0 for a cache hit) and whether a later target served it.
    headers["x-tollgate-attempts"] = String(ctx.attempts);
    const first = ctx.targets?.[0];
    headers["x-tollgate-fallback"] = String(first !== undefined && (first.provider.id !== ctx.target.provider.id || first.model !== ctx.target.model));
  }
  return headers;
}

/** OpenAI SSE framing of a canonical chunk, honouring `stream_options.include_usage`. */
export function openaiChunkFormatter(includeUsage: boolean): (chunk: ChatCompletionChunk) => string | null {
  return (chunk) => {
    if (includeUsage) {
      return `data: ${JSON.stringify({ ...chunk, usage: chunk.usage ?? null })}\n\n`;
    }
    if (chunk.choices.length === 0) return null; // the usage-only chunk
    const { usage: _drop, ...rest } = chunk;
    return `data: ${JSON.stringify(rest)}\n\n`;
  };
}

export const openaiSseError = (error: GatewayError) => `data: ${JSON.stringify(error.toBody())}\n\n`;

export function openaiRoutes(deps: GatewayDeps & { access?: OperatorAccess & { loopback: boolean } }) {
  /** The model listings answer a virtual key or the admin key, like a model call (issue 22); else the error to send. */
  const keyRefusal = (request: Request): Response | undefined => {
    if (!deps.access) return undefined;
    try {
      checkAnyCredential(deps.access, deps.config().tenancy, request);
      return undefined;
    } catch (err) {
      if (err instanceof GatewayErrorClass) return errorResponse(err);
      throw err;
    }
  };
  return new Elysia({ name: "openai-routes", normalize: false })
    .post(
      "/v1/chat/completions",
      async ({ body, request }) => {
        const out = await runGateway(deps, request, { endpoint: "chat.completions", request: body, meta: metaFrom(request, body) });
        const headers = responseHeaders(out.ctx);
        if (!out.ok) return errorResponse(out.error, headers);
        if (out.result.kind !== "stream") return Response.json(out.result.response, { headers });
        const includeUsage = body.stream_options?.include_usage === true;
        const writer = { write: openaiChunkFormatter(includeUsage), end: () => "data: [DONE]\n\n", error: openaiSseError };
        return sseResponse(out.ctx, out.result.chunks, writer, headers);
      },
      {
        body: ChatCompletionRequest,
        detail: {
          tags: ["OpenAI-compatible"],
          summary: "Create a chat completion",
          description:
            "OpenAI Chat Completions. With `stream: true` the answer is Server-Sent Events (`data: {chunk}` lines, then `data: [DONE]`); `stream_options.include_usage` adds a final chunk with `usage`.",
          responses: {
            ...jsonOrSse(Loose({ id: T.String(), object: T.Literal("chat.completion") }), "A `chat.completion` object, or an SSE stream of `chat.completion.chunk` objects"),
            ...errorResponses(MODEL_CALL_ERRORS),
          },
          security: KEY_SECURITY,
        },
      },
    )
    .get(
      "/v1/models",
      ({ request }) => {
        const refused = keyRefusal(request);
        if (refused) return refused;
        return { object: "list" as const, data: listModels(deps.config(), deps.providers.list()) };
      },
      {
        response: T.Object({ object: T.Literal("list"), data: T.Array(ModelEntrySchema) }),
        detail: { tags: ["OpenAI-compatible"], summary: "List every name a client may send as `model`: routes, aliases, provider models (bare and `provider/model`) (a virtual key or the admin key)", security: [...KEY_SECURITY, { adminKey: [] }], responses: { ...okResponse(T.Object({ object: T.Literal("list"), data: T.Array(ModelEntrySchema) }), "The models, routes and aliases"), ...errorResponses({ 401: "No valid key", 403: "Tenant disabled" }) } },
      },
    )
    .get(
      "/v1/models/:id",
      ({ params, request }) => {
        const refused = keyRefusal(request);
        if (refused) return refused;
        const id = params.id; // `provider/model` arrives URL-encoded (`e2%2Fe2-model`), decoded here by the router
        const hit = listModels(deps.config(), deps.providers.list()).find((m) => m.id === id);
        if (hit) return Response.json(hit);
        return errorResponse(new GatewayErrorClass({ status: 404, code: "model_not_found", message: `The model \`${id}\` does not exist or is not routed by this gateway`, param: "model" }));
      },
      {
        params: T.Object({ id: T.String({ description: "A name a client sends as `model` (`provider/model` URL-encoded)" }) }),
        detail: {
          tags: ["OpenAI-compatible"],
          summary: "One model, route or alias by the name a client sends as `model` (a virtual key or the admin key)",
          security: [...KEY_SECURITY, { adminKey: [] }],
          responses: { ...okResponse(ModelEntrySchema, "The model"), ...errorResponses({ 401: "No valid key", 403: "Tenant disabled", 404: "Not a name this gateway routes (`model_not_found`)" }) },
        },
      },
    );
}

const ModelEntrySchema = T.Object(
  {
    id: T.String(),
    object: T.Literal("model"),
    created: T.Integer(),
    owned_by: T.String({ description: "`tollgate:route`, `tollgate:alias`, or the provider id" }),
    tollgate: T.Object({ kind: T.String(), strategy: T.Optional(T.String()), targets: T.Array(T.Object({ provider: T.String(), model: T.String() })) }),
  },
);
