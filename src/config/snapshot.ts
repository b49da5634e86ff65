/**
 * The configuration snapshot a request is decided under. Read from memory on the hot path;
 * later kept current from the config stream (command → events → projection).
 */
import type { ProviderConfig } from "../providers/types.ts";

/** A model alias: the name clients use → a provider and the provider's model id. */
export interface ModelAlias {
  alias: string;
  provider: string;
  model: string;
}

/** USD per one million tokens. */
export interface Price {
  input: number;
  output: number;
  cachedInput?: number;
}

export interface ConfigSnapshot {
  /** Monotonic version of the configuration (0 = bootstrap/env only). */
  version: number;
  providers: ProviderConfig[];
  models: ModelAlias[];
  /** Keyed `provider/model`. */
  prices: Record<string, Price>;
}

export function emptySnapshot(): ConfigSnapshot {
  return { version: 0, providers: [], models: [], prices: {} };
}
