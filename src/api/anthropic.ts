/**
 * Anthropic-compatible route: POST /v1/messages (JSON or SSE), so the official Anthropic SDK
 * can use the gateway as its base URL. The request is translated to the canonical shape and
 * runs through the same pipeline as /v1/chat/completions, to whichever provider it routes to;
 * the answer is translated back. Errors use Anthropic's body (`{type:"error", error:{…}}`)
 * with our stable `code` kept in `error.code`.
 *
 * `x-api-key` and `anthropic-version` headers are accepted and not required.
 */
import { Elysia } from "elysia";
import { Type as T } from "@sinclair/typebox";
import type { Ctx } from "../pipeline/context.ts";
import { GatewayError, type ErrorType } from "../pipeline/errors.ts";
import { AnthropicMessagesRequest, AnthropicStreamWriter, fromCanonical, toAnthropicError, toCanonical } from "./anthropic-format.ts";
import { type GatewayDeps, runGateway, sseResponse } from "./gateway.ts";
import { metaFrom, responseHeaders } from "./openai.ts";
import { jsonContent } from "./schemas.ts";

const AnthropicErrorSchema = T.Object({
  type: T.Literal("error"),
  error: T.Object({
    type: T.String({ description: "Anthropic error type, e.g. `not_found_error`" }),
    message: T.String(),
    code: T.String({ description: "The gateway's stable code, e.g. `model_not_found`" }),
    param: T.Optional(T.String()),
  }),
  request_id: T.Optional(T.String()),
});

const anthropicErrorResponses = (entries: Record<number, string>) =>
  Object.fromEntries(Object.entries(entries).map(([status, description]) => [status, { description, content: jsonContent(AnthropicErrorSchema) }]));

/** Anthropic's SDK reads `request-id`; the rest of the gateway uses `x-request-id`. Send both. */
function headersFor(ctx: Ctx): Record<string, string> {
  return { ...responseHeaders(ctx), "request-id": ctx.requestId };
}

/** Error responses already in Anthropic's shape (skipped by `reshapeError`). */
const rendered = new WeakSet<Response>();

export function anthropicErrorResponse(error: GatewayError, headers: Record<string, string> = {}, requestId?: string): Response {
  const response = new Response(JSON.stringify(toAnthropicError(error, requestId)), {
    status: error.status,
    headers: { "content-type": "application/json", ...headers, ...error.headers },
  });
  rendered.add(response);
  return response;
}

/**
 * Errors raised before the handler runs (bad JSON, validation, body too large) are rendered
 * by the app's shared error handler in the OpenAI shape, and recorded there. This re-renders
 * such a response in Anthropic's shape, keeping status and headers. Anything else: untouched.
 */
function reshapeError(response: unknown): Promise<Response> | undefined {
  if (!(response instanceof Response) || response.status < 400 || rendered.has(response)) return undefined;
  if (!(response.headers.get("content-type") ?? "").includes("application/json")) return undefined;
  return reshapeJsonError(response);
}

/** Always resolves to a Response (Elysia answers an empty 200 when an async mapResponse yields undefined). */
async function reshapeJsonError(response: Response): Promise<Response> {
  let body: unknown;
  try {
    body = await response.clone().json();
  } catch {
    return response;
  }
  const e = (body as { type?: unknown; error?: unknown }).error;
  if ((body as { type?: unknown }).type === "error" || typeof e !== "object" || e === null) return response; // already Anthropic's
  const fields = e as { message?: unknown; type?: unknown; code?: unknown; param?: unknown };
  const error = new GatewayError({
    status: response.status,
    code: typeof fields.code === "string" ? fields.code : "invalid_request",
    message: typeof fields.message === "string" ? fields.message : "Request failed",
    ...(typeof fields.type === "string" ? { type: fields.type as ErrorType } : {}),
    param: typeof fields.param === "string" ? fields.param : null,
  });
  const headers = new Headers(response.headers);
  const requestId = headers.get("x-request-id") ?? undefined;
  if (requestId) headers.set("request-id", requestId);
  return new Response(JSON.stringify(toAnthropicError(error, requestId)), { status: response.status, headers });
}

export function anthropicRoutes(deps: GatewayDeps) {
  return new Elysia({ name: "anthropic-routes", normalize: false })
    .mapResponse(({ response }) => reshapeError(response))
    .post(
      "/v1/messages",
      async ({ body, request }) => {
        const chat = toCanonical(body);
        const out = await runGateway(deps, request, { endpoint: "messages", request: chat, meta: metaFrom(request, chat) });
        const headers = headersFor(out.ctx);
        if (!out.ok) return anthropicErrorResponse(out.error, headers, out.ctx.requestId);
        const result = out.result;
        if (result.kind === "stream") {
          const w = new AnthropicStreamWriter({ model: body.model });
          const requestId = out.ctx.requestId;
          return sseResponse(out.ctx, result.chunks, { write: (c) => w.write(c), end: () => w.end(), error: (e) => w.error(e, requestId) }, headers);
        }
        if (result.kind !== "response") throw new Error(`/v1/messages cannot render a \`${result.kind}\` answer`);
        return Response.json(fromCanonical(result.response, body.model), { headers });
      },
      {
        body: AnthropicMessagesRequest,
        detail: {
          tags: ["Anthropic-compatible"],
          summary: "Create a message (Anthropic Messages API)",
          description:
            "Anthropic's Messages API in front of any provider: the request is translated to the canonical (OpenAI Chat Completions) shape, " +
            "runs through the same pipeline as `/v1/chat/completions`, and the answer is translated back. With `stream: true` the answer is " +
            "Anthropic's Server-Sent Events (`message_start`, `content_block_*`, `message_delta`, `message_stop`); `message_start` carries " +
            "`input_tokens: 0` and the real usage arrives in `message_delta.usage`. `x-api-key` and `anthropic-version` are accepted, not required.",
          responses: {
            200: { description: "A `message` object, or an SSE stream of Anthropic message events" },
            ...anthropicErrorResponses({ 400: "Invalid request", 404: "Unknown model", 413: "Body too large", 502: "Upstream provider failed" }),
          },
        },
      },
    );
}
