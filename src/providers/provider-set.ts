import type { ProviderLookup } from "../pipeline/context.ts";
import type { ProviderAdapter, ProviderConfig } from "./types.ts";

/** The live provider adapters, built from config (rebuilt when the config changes). */
export class ProviderSet implements ProviderLookup {
  private readonly byId = new Map<string, ProviderAdapter>();

  constructor(
    configs: readonly ProviderConfig[],
    private readonly create: (cfg: ProviderConfig) => ProviderAdapter,
  ) {
    this.replace(configs);
  }

  /** Swap in a new set of providers (adapters are cheap: no connections are held). */
  replace(configs: readonly ProviderConfig[]): void {
    this.byId.clear();
    for (const cfg of configs) this.byId.set(cfg.id, this.create(cfg));
  }

  get(id: string): ProviderAdapter | undefined {
    return this.byId.get(id);
  }

  list(): ProviderAdapter[] {
    return [...this.byId.values()];
  }
}
