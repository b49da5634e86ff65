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
import type { GatewayError } from "../pipeline/errors.ts";
import { AnthropicMessagesRequest, fromCanonical, toAnthropicError, toCanonical } from "./anthropic-format.ts";
import { AnthropicStreamWriter } from "./anthropic-stream.ts";
import { type GatewayDeps, runGateway, sseResponse } from "./gateway.ts";
import { metaFrom, responseHeaders } from "./openai.ts";
import { jsonContent, jsonOrSse, KEY_SECURITY, Loose, MODEL_CALL_ERRORS } from "./schemas.ts";

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

/** An error in Anthropic's body shape (also used by the app's error handler for this route). */
export function anthropicErrorResponse(error: GatewayError, headers: Record<string, string> = {}, requestId?: string): Response {
  return new Response(JSON.stringify(toAnthropicError(error, requestId)), {
    status: error.status,
    headers: { "content-type": "application/json", ...headers, ...(requestId ? { "request-id": requestId } : {}), ...error.headers },
  });
}

export function anthropicRoutes(deps: GatewayDeps) {
  return new Elysia({ name: "anthropic-routes", normalize: false })
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
            ...jsonOrSse(Loose({ id: T.String(), type: T.Literal("message") }), "A `message` object, or an SSE stream of Anthropic message events"),
            ...anthropicErrorResponses(MODEL_CALL_ERRORS),
          },
          security: KEY_SECURITY,
        },
      },
    );
}
