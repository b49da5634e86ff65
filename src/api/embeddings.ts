/**
 * POST /v1/embeddings (OpenAI shape), through the same pipeline as chat: auth, limits and input
 * plugins see the text inputs; usage and cost are recorded in `request.completed`.
 */
import { Elysia } from "elysia";
import type { ChatCompletionRequest } from "../canonical/chat.ts";
import { EmbeddingsRequest } from "../canonical/embeddings.ts";
import { errorResponse } from "./http.ts";
import { type GatewayDeps, runGateway } from "./gateway.ts";
import { responseHeaders } from "./openai.ts";
import { errorResponses, jsonContent, KEY_SECURITY, Loose, MODEL_CALL_ERRORS } from "./schemas.ts";
import { checkIdentifier } from "../canonical/limits.ts";
import { Type as T } from "@sinclair/typebox";

/** Pure: the canonical (chat-shaped) view of an embeddings request: one user message per text input. */
export function embeddingsAsChat(req: EmbeddingsRequest): ChatCompletionRequest {
  const texts = typeof req.input === "string" ? [req.input] : req.input.every((x) => typeof x === "string") ? (req.input as string[]) : [];
  return { model: req.model, messages: texts.length ? texts.map((t) => ({ role: "user" as const, content: t })) : [{ role: "user", content: "" }], ...(req.user ? { user: req.user } : {}) };
}

export function embeddingsRoutes(deps: GatewayDeps) {
  return new Elysia({ name: "embeddings-routes", normalize: false }).post(
    "/v1/embeddings",
    async ({ body, request }) => {
      checkIdentifier("x-tollgate-service", request.headers.get("x-tollgate-service"));
      const meta = { ...(request.headers.get("x-tollgate-service") ? { service: request.headers.get("x-tollgate-service")! } : {}), ...(body.user ? { user: body.user } : {}) };
      const out = await runGateway(deps, request, { endpoint: "embeddings", request: embeddingsAsChat(body), embeddings: body, meta });
      const headers = responseHeaders(out.ctx);
      if (!out.ok) return errorResponse(out.error, headers);
      if (out.result.kind !== "embeddings") throw new Error("embeddings expected an embeddings answer");
      return Response.json(out.result.response, { headers });
    },
    {
      body: EmbeddingsRequest,
      detail: {
        tags: ["OpenAI-compatible"],
        summary: "Create embeddings",
        description: "OpenAI embeddings, for providers that offer them (OpenAI, Azure, Gemini, Mistral, Together, custom). Usage and cost are recorded.",
        security: KEY_SECURITY,
        responses: {
          200: { description: "An OpenAI embeddings list", content: jsonContent(Loose({ object: T.Literal("list"), data: T.Array(Loose({ embedding: T.Union([T.Array(T.Number()), T.String()]) })) })) },
          ...errorResponses({ ...MODEL_CALL_ERRORS, 400: "Invalid request, or the provider has no embeddings (`embeddings_not_supported`)" }),
        },
      },
    },
  );
}
