/**
 * POST /api/v1/generate — the simple form: a prompt in, the text and its cost out.
 */
import { costNanosOf } from "../pipeline/cost.ts";
import { usdFromNanos } from "../pricing/money.ts";
import { Elysia } from "elysia";
import { authenticate, credentialFrom } from "../plugins/auth.ts";
import { Type as T, type Static } from "@sinclair/typebox";
import { MAX_ID_CHARS } from "../canonical/limits.ts";
import type { ChatCompletionRequest, ChatMessage } from "../canonical/chat.ts";
import type { ConfigSnapshot } from "../config/snapshot.ts";
import { errorResponse } from "./http.ts";
import { GatewayError } from "../pipeline/errors.ts";
import { type GatewayDeps, runGateway } from "./gateway.ts";
import { responseHeaders } from "./openai.ts";
import { errorResponses, jsonContent, KEY_SECURITY, MODEL_CALL_ERRORS } from "./schemas.ts";

export const GenerateRequest = T.Object({
  prompt: T.String({ minLength: 1 }),
  system: T.Optional(T.String()),
  temperature: T.Optional(T.Number({ minimum: 0, maximum: 2 })),
  max_tokens: T.Optional(T.Integer({ minimum: 1 })),
  json_mode: T.Optional(T.Boolean()),
  model: T.Optional(T.String({ minLength: 1, maxLength: MAX_ID_CHARS, description: "Model or alias; default: the alias `default` if configured, else `echo`" })),
  provider: T.Optional(T.String({ minLength: 1, maxLength: 64, description: "Pick a provider by id: `model` is then that provider's model id (default: its first listed model)" })),
  service: T.Optional(T.String({ maxLength: MAX_ID_CHARS })),
  task_type: T.Optional(T.String({ maxLength: MAX_ID_CHARS })),
  user_id: T.Optional(T.String({ maxLength: MAX_ID_CHARS })),
});
export type GenerateRequest = Static<typeof GenerateRequest>;

export const GenerateResponse = T.Object({
  content: T.String(),
  provider: T.String(),
  model: T.String(),
  input_tokens: T.Integer(),
  output_tokens: T.Integer(),
  cost_usd: T.Number({ description: "cost_nanos / 10^9 (exact decimal, e.g. 0.0000135)" }),
  cached: T.Boolean(),
  latency_ms: T.Number(),
  request_id: T.String(),
});

/** Pure: the model to ask for — `provider/model` when a provider is picked (400 `unknown_provider` for an unknown one). */
export function generateModel(body: Pick<GenerateRequest, "model" | "provider">, config: Pick<ConfigSnapshot, "models" | "providers">): string {
  if (body.provider !== undefined) {
    const p = config.providers.find((x) => x.id === body.provider);
    if (!p) throw new GatewayError({ status: 400, code: "unknown_provider", message: `Unknown or disabled provider \`${body.provider}\``, param: "provider" });
    const model = body.model ?? p.models[0];
    if (!model) throw new GatewayError({ status: 400, code: "invalid_request", message: `Provider \`${body.provider}\` lists no models: pass \`model\``, param: "model" });
    return `${p.id}/${model}`;
  }
  return body.model ?? (config.models.some((m) => m.alias === "default") ? "default" : "echo");
}

/** Pure: the canonical request for a generate call. */
export function toChatRequest(body: GenerateRequest, config: Pick<ConfigSnapshot, "models" | "providers">): ChatCompletionRequest {
  const messages: ChatMessage[] = [];
  if (body.system) messages.push({ role: "system", content: body.system });
  messages.push({ role: "user", content: body.prompt });
  const model = generateModel(body, config);
  const req: ChatCompletionRequest = { model, messages, stream: false };
  if (body.temperature !== undefined) req.temperature = body.temperature;
  if (body.max_tokens !== undefined) req.max_tokens = body.max_tokens;
  if (body.json_mode) req.response_format = { type: "json_object" };
  if (body.user_id) req.user = body.user_id;
  return req;
}

/**
 * A request error found before the pipeline (e.g. an unknown `provider`) must not tell a caller
 * without a valid key more than a 401 would: authenticate first, then report it.
 */
function authFirst(deps: GatewayDeps & { admin?: { loopback: boolean } }, request: Request, err: unknown): never {
  if (err instanceof GatewayError) {
    const d = authenticate(deps.config().tenancy, credentialFrom(request.headers), { loopback: deps.admin?.loopback ?? false, now: Date.now() });
    if (!d.ok) throw new GatewayError({ status: d.status, code: d.code, message: d.message });
  }
  throw err;
}

export function generateRoutes(deps: GatewayDeps & { admin?: { loopback: boolean } }) {
  return new Elysia({ name: "generate-routes", normalize: false }).post(
    "/api/v1/generate",
    async ({ body, request }) => {
      // An unknown `provider` throws a GatewayError: the app's error handler renders and records it.
      let chat: ChatCompletionRequest;
      try {
        chat = toChatRequest(body, deps.config());
      } catch (err) {
        authFirst(deps, request, err);
      }
      const meta = { ...(body.service ? { service: body.service } : {}), ...(body.task_type ? { taskType: body.task_type } : {}), ...(body.user_id ? { user: body.user_id } : {}) };
      const out = await runGateway(deps, request, { endpoint: "generate", request: chat, meta });
      const headers = responseHeaders(out.ctx);
      if (!out.ok) return errorResponse(out.error, headers);
      if (out.result.kind !== "response") throw new Error("generate expects a whole response");
      const r = out.result.response;
      const choice = r.choices[0];
      return Response.json(
        {
          content: choice?.message.content ?? "",
          provider: out.ctx.target?.provider.id ?? "",
          model: out.ctx.target?.model ?? r.model,
          input_tokens: r.usage?.prompt_tokens ?? 0,
          output_tokens: r.usage?.completion_tokens ?? 0,
          cost_usd: usdFromNanos(costNanosOf(out.ctx)),
          cached: out.result.cached,
          latency_ms: Math.round((performance.now() - out.ctx.startedAt) * 100) / 100,
          request_id: out.ctx.requestId,
        },
        { headers },
      );
    },
    {
      body: GenerateRequest,
      detail: {
        tags: ["Simple API"],
        summary: "Generate text from a prompt",
        responses: {
          200: { description: "The answer with usage and cost", content: jsonContent(GenerateResponse) },
          ...errorResponses({
            ...MODEL_CALL_ERRORS,
            400: "Invalid request (`invalid_request`, `invalid_json`, `unknown_provider`)",
            401: "Key missing or wrong (`missing_api_key`, `invalid_api_key`, …): send `X-Service-Key: tg-…` or `Authorization: Bearer tg-…`",
          }),
        },
        security: KEY_SECURITY,
      },
    },
  );
}
