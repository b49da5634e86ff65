/**
 * Wiring for operators' plugins (called once by main.ts): load the plugins directory into a
 * PluginHost and hand back what the pipeline and the config decider need.
 */
import type { StateStore } from "../../stores/state-store.ts";
import type { PluginCatalog, PluginCatalogEntry } from "../../projections/config/plugins.ts";
import type { Plugin } from "../plugin.ts";
import { discoverPlugins } from "./discover.ts";
import type { BreakerOptions } from "./guard.ts";
import { PluginHost } from "./host.ts";

export interface OperatorPlugins {
  host: PluginHost;
  /** For the pipeline, after the built-ins: single-file plugins (guarded) and the host of folder plugins. */
  pipelinePlugins: Plugin[];
}

/** A catalog the config service reads; filled by {@link loadOperatorPlugins}. */
export function pluginCatalog(): Map<string, PluginCatalogEntry> {
  return new Map();
}

export async function loadOperatorPlugins(opts: {
  dir: string;
  store: StateStore;
  catalog: Map<string, PluginCatalogEntry>;
  emitSystem?: (e: { type: string; payload: Record<string, unknown> }) => void;
  breaker?: BreakerOptions;
  quiet?: boolean;
}): Promise<OperatorPlugins> {
  const host = new PluginHost({ store: opts.store, ...(opts.emitSystem ? { emitSystem: opts.emitSystem } : {}), ...(opts.breaker ? { breaker: opts.breaker } : {}), ...(opts.quiet ? { quiet: true } : {}) });
  const files = await discoverPlugins(opts.dir, host, opts.store);
  for (const rt of host.runtimes.values()) opts.catalog.set(rt.name, { ...(rt.manifest.settings ? { schema: rt.manifest.settings } : {}), defaults: rt.manifest.defaultSettings });
  const hosted = host.plugin();
  return { host, pipelinePlugins: [...files, ...(Object.keys(hosted.phases).length ? [hosted] : [])] };
}
export type { PluginCatalog };
