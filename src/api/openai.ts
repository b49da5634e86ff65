/**
 * OpenAI-compatible routes: POST /v1/chat/completions (JSON or SSE) and GET /v1/models.
 */
import { Elysia } from "elysia";
import { Type as T } from "@sinclair/typebox";
import { ChatCompletionRequest, type ChatCompletionChunk } from "../canonical/chat.ts";
import type { Ctx } from "../pipeline/context.ts";
import type { GatewayError } from "../pipeline/errors.ts";
import { errorResponse } from "./http.ts";
import { type GatewayDeps, runGateway, sseResponse } from "./gateway.ts";
import { errorResponses, jsonOrSse, KEY_SECURITY, Loose, MODEL_CALL_ERRORS, okResponse } from "./schemas.ts";
import { checkIdentifier } from "../canonical/limits.ts";
import { GatewayError as GatewayErrorClass } from "../pipeline/errors.ts";
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

const ModelList = T.Object({
  object: T.Literal("list"),
  data: T.Array(T.Object({ id: T.String(), object: T.Literal("model"), created: T.Integer(), owned_by: T.String() })),
});

export function openaiRoutes(deps: GatewayDeps & { access?: OperatorAccess & { loopback: boolean } }) {
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
        if (deps.access) {
          // A virtual key or the admin key (none in first-run mode), like a model call.
          try {
            checkAnyCredential(deps.access, deps.config().tenancy, request);
          } catch (err) {
            if (err instanceof GatewayErrorClass) return errorResponse(err);
            throw err;
          }
        }
        const created = Math.floor(Date.now() / 1000);
        const seen = new Set<string>();
        const data: Array<{ id: string; object: "model"; created: number; owned_by: string }> = [];
        const add = (id: string, owner: string) => {
          if (seen.has(id)) return;
          seen.add(id);
          data.push({ id, object: "model", created, owned_by: owner });
        };
        const cfg = deps.config();
        for (const m of cfg.models) add(m.alias, m.provider);
        for (const p of deps.providers.list()) for (const id of p.models) add(id, p.id);
        return { object: "list" as const, data };
      },
      {
        response: { 200: ModelList },
        detail: { tags: ["OpenAI-compatible"], summary: "List the models and aliases this gateway routes (a virtual key or the admin key)", security: [...KEY_SECURITY, { adminKey: [] }], responses: { ...okResponse(ModelList, "The models and aliases"), ...errorResponses({ 401: "No valid key", 403: "Tenant disabled" }) } },
      },
    );
}
