/**
 * The OpenAI-compatible kinds as data: per kind a default base URL and the body fixes its
 * API needs. One adapter (`openaiWireAdapter`) serves them all.
 *
 * Vendor quirks (what the table encodes, and what it deliberately does not):
 * - `openai`: the reference; nothing to fix.
 * - `mistral` (api.mistral.ai) validates bodies strictly and answers 422 `extra_forbidden`
 *   to fields it does not know, so OpenAI-only fields are dropped: `stream_options` (it
 *   sends `usage` in the last chunk anyway), `user`, `metadata`, `store`, `service_tier`,
 *   `logit_bias`, `logprobs`, `top_logprobs`, `modalities`, `audio`. Renamed:
 *   `max_completion_tokens` → `max_tokens` (the former wins when both are set),
 *   `seed` → `random_seed`, `tool_choice: "required"` → `"any"`. Messages: the `developer`
 *   role becomes `system`; `name` is dropped except on `tool` messages. Embeddings
 *   (`mistral-embed`) take `model` and `input` and reject `user`, so that is dropped.
 * - `together` (api.together.xyz, Llama and other open models): OpenAI-compatible,
 *   accepts `stream_options` and reports usage in the last chunk; nothing to fix.
 * - `custom` (vLLM, Ollama, Groq, LM Studio, …): any OpenAI-compatible server; `baseUrl`
 *   is required, nothing is changed. When a server sends no usage the adapter counts tokens
 *   itself (o200k), so costs stay approximate for non-OpenAI tokenizers.
 */
import type { Json } from "./openai-parse.ts";
import { bearerWire, OPENAI_BASE_URL, type OpenAIOperation, openaiWireAdapter } from "./openai.ts";
import type { ProviderAdapter, ProviderConfig, ProviderKind } from "./types.ts";

/** The kinds `openaiCompatibleProvider` serves. */
export const OPENAI_COMPATIBLE_KINDS = ["openai", "mistral", "together", "custom"] as const satisfies readonly ProviderKind[];
export type OpenAICompatibleKind = (typeof OPENAI_COMPATIBLE_KINDS)[number];

interface KindProfile {
  /** Used when the config has no `baseUrl`; absent = `baseUrl` is required. */
  defaultBaseUrl?: string;
  /** Body fixes for this vendor (default: none). */
  fixBody?(body: Json, op: OpenAIOperation): Json;
}

const PROFILES: Record<OpenAICompatibleKind, KindProfile> = {
  openai: { defaultBaseUrl: OPENAI_BASE_URL },
  mistral: { defaultBaseUrl: "https://api.mistral.ai/v1", fixBody: mistralBody },
  together: { defaultBaseUrl: "https://api.together.xyz/v1" },
  custom: {},
};

/**
 * Creates the adapter for an OpenAI-compatible kind (`openai`, `mistral`, `together`,
 * `custom`): the kind's default base URL unless `cfg.baseUrl` is set, `Authorization:
 * Bearer {apiKey}` when a key is set, the kind's body fixes, chat and embeddings.
 * Throws when `cfg.kind` is not one of these, or `custom` comes without `baseUrl`.
 *
 * @example
 * const mistral = openaiCompatibleProvider({ id: "mistral", kind: "mistral", apiKey: key, models: ["mistral-small-latest"] });
 * const vllm = openaiCompatibleProvider({ id: "vllm", kind: "custom", baseUrl: "http://gpu-1:8000/v1", models: ["meta-llama/Llama-3.1-8B-Instruct"] });
 */
export function openaiCompatibleProvider(cfg: ProviderConfig): ProviderAdapter {
  if (!isOpenAICompatibleKind(cfg.kind)) throw new Error(`provider ${cfg.id}: kind "${cfg.kind}" is not OpenAI-compatible`);
  const profile = PROFILES[cfg.kind];
  const baseUrl = cfg.baseUrl ?? profile.defaultBaseUrl;
  if (!baseUrl) throw new Error(`provider ${cfg.id}: kind "${cfg.kind}" needs a baseUrl`);
  // Only OpenAI itself speaks the Responses API; the others get /v1/responses translated through chat.
  return openaiWireAdapter(cfg, { ...bearerWire(cfg, baseUrl, profile.fixBody), ...(cfg.kind === "openai" ? { nativeResponses: true } : {}) });
}

/** The base URL a kind uses when the config names none (undefined: `baseUrl` is required). */
export function defaultBaseUrl(kind: OpenAICompatibleKind): string | undefined {
  return PROFILES[kind].defaultBaseUrl;
}

export function isOpenAICompatibleKind(kind: string): kind is OpenAICompatibleKind {
  return (OPENAI_COMPATIBLE_KINDS as readonly string[]).includes(kind);
}

/** Fields Mistral rejects (422 `extra_forbidden`) that OpenAI clients commonly send. */
const MISTRAL_DROPPED = ["stream_options", "user", "metadata", "store", "service_tier", "logit_bias", "logprobs", "top_logprobs", "modalities", "audio"];

function mistralBody(body: Json, op: OpenAIOperation): Json {
  if (op === "embeddings") {
    const { user: _user, ...rest } = body;
    return rest;
  }
  const out: Json = {};
  for (const [key, value] of Object.entries(body)) {
    if (MISTRAL_DROPPED.includes(key)) continue;
    if (key === "max_completion_tokens") {
      if (value != null) out.max_tokens = value;
    } else if (key === "max_tokens") {
      out.max_tokens ??= value;
    } else if (key === "seed") {
      out.random_seed = value;
    } else if (key === "tool_choice") {
      out.tool_choice = value === "required" ? "any" : value;
    } else if (key === "messages" && Array.isArray(value)) {
      out.messages = value.map(mistralMessage);
    } else {
      out[key] = value;
    }
  }
  return out;
}

function mistralMessage(message: Json): Json {
  const { name, ...rest } = message;
  if (rest.role === "developer") rest.role = "system";
  return rest.role === "tool" && name !== undefined ? { ...rest, name } : rest;
}
