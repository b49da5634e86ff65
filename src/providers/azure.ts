/**
 * Azure OpenAI: the OpenAI protocol behind per-deployment URLs.
 *
 * - URL: `{baseUrl}/openai/deployments/{deployment}/{chat/completions|embeddings}?api-version={apiVersion}`,
 *   where `baseUrl` is the resource endpoint (`https://<resource>.openai.azure.com`),
 *   `deployment = cfg.deployments[model] ?? model` and `apiVersion` defaults to `2024-10-21`.
 * - Auth: `api-key: {apiKey}` (not `Authorization`). The body carries no `model`: the
 *   deployment decides it.
 * - `stream_options` exists from api-version `2024-09-01-preview` (GA in `2024-10-21`);
 *   older versions reject it, so it is dropped for them (usage is then counted locally).
 * - Content filtering passes through as Azure reports it: a filtered answer ends with
 *   `finish_reason: "content_filter"` (with `content_filter_results` on the choice and
 *   `prompt_filter_results` on the answer or first chunk); a filtered prompt is a 400 with
 *   code `content_filter`, which reaches the client as a 400 `content_filter`, not retryable.
 * - Errors are OpenAI-shaped (`{error:{code,message,param}}`), mapped like OpenAI's;
 *   `retry-after-ms` is honored.
 */
import type { Json } from "./openai-parse.ts";
import { type OpenAIOperation, openaiWireAdapter } from "./openai.ts";
import type { ProviderAdapter, ProviderConfig } from "./types.ts";

export const AZURE_DEFAULT_API_VERSION = "2024-10-21";
/** The first api-version that accepts `stream_options`. */
const STREAM_OPTIONS_SINCE = "2024-09-01";

/**
 * Creates the Azure OpenAI adapter. Throws when `cfg.baseUrl` is missing.
 *
 * @example
 * const azure = azureProvider({
 *   id: "azure-eu", kind: "azure", baseUrl: "https://contoso-eu.openai.azure.com", apiKey: key,
 *   models: ["gpt-4o"], deployments: { "gpt-4o": "gpt4o-prod" },
 * });
 */
export function azureProvider(cfg: ProviderConfig): ProviderAdapter {
  if (!cfg.baseUrl) throw new Error(`provider ${cfg.id}: kind "azure" needs a baseUrl (https://<resource>.openai.azure.com)`);
  const base = cfg.baseUrl.replace(/\/+$/, "");
  const apiVersion = cfg.apiVersion ?? AZURE_DEFAULT_API_VERSION;
  const query = `api-version=${encodeURIComponent(apiVersion)}`;
  const keepsStreamOptions = !/^\d{4}-\d{2}-\d{2}/.test(apiVersion) || apiVersion >= STREAM_OPTIONS_SINCE;

  return openaiWireAdapter(cfg, {
    // Responses is not per deployment: `POST {base}/openai/responses`, the deployment named as `model`.
    url: (op: OpenAIOperation, model: string) =>
      op === "responses" ? `${base}/openai/responses?${query}` : `${base}/openai/deployments/${encodeURIComponent(cfg.deployments?.[model] ?? model)}/${op}?${query}`,
    nativeResponses: true,
    headers: cfg.apiKey ? { "api-key": cfg.apiKey } : {},
    fixBody: (body: Json, op: OpenAIOperation) => {
      if (op === "responses") return { ...body, model: cfg.deployments?.[String(body.model)] ?? body.model };
      const { model: _deploymentDecides, stream_options, ...rest } = body;
      return keepsStreamOptions && stream_options !== undefined ? { ...rest, stream_options } : rest;
    },
  });
}
