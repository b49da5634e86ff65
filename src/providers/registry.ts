/**
 * Builds a provider adapter from its declarative config.
 */
import { anthropicProvider } from "./anthropic/index.ts";
import { echoProvider } from "./echo.ts";
import { geminiProvider } from "./gemini/index.ts";
import { azureProvider } from "./azure.ts";
import { openaiCompatibleProvider } from "./openai-compatible.ts";
import type { ProviderAdapter, ProviderConfig } from "./types.ts";

/**
 * Creates the adapter for `cfg.kind`. Adding a kind to `ProviderConfig` without handling
 * it here is a compile error.
 */
export function createProvider(cfg: ProviderConfig): ProviderAdapter {
  switch (cfg.kind) {
    case "openai":
    case "mistral":
    case "together":
    case "custom":
      return openaiCompatibleProvider(cfg);
    case "azure":
      return azureProvider(cfg);
    case "echo":
      return echoProvider(cfg);
    case "anthropic":
      return anthropicProvider(cfg);
    case "gemini":
      return geminiProvider(cfg);
    default: {
      const unknownKind: never = cfg.kind;
      throw new Error(`Unknown provider kind: ${String(unknownKind)}`);
    }
  }
}
