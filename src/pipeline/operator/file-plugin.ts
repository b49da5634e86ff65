/**
 * Today's single-file plugins (`plugins/x.ts` exporting a `definePlugin` from pipeline/plugin.ts)
 * keep working: same hooks, same raw ctx, same place in the pipeline. What changes: every hook
 * runs under the guard (timeout, fail-open, breaker), and the plugin can be switched on or off
 * per tenant through the admin API like a folder plugin.
 */
import type { Ctx } from "../context.ts";
import type { Plugin, PluginHooks } from "../plugin.ts";
import { enabledFor } from "../../projections/config/plugins.ts";
import type { PluginHost } from "./host.ts";
import { FileInvoker } from "./inline.ts";
import type { HookName, Manifest } from "./manifest.ts";

/** Single-file plugins get a second per hook unless they say otherwise (`timeoutMs` on the plugin object). */
export const FILE_PLUGIN_TIMEOUT_MS = 1000;

export function guardFilePlugin(host: PluginHost, plugin: Plugin, source: string): Plugin {
  const extra = plugin as Plugin & { timeoutMs?: number; failurePolicy?: "fail-open" | "fail-closed" };
  const manifest: Manifest = {
    name: plugin.name,
    version: plugin.version,
    description: "single-file plugin",
    phases: Object.keys(plugin.phases) as HookName[],
    events: [],
    defaultEnabled: true,
    before: [],
    after: [],
    failurePolicy: extra.failurePolicy === "fail-closed" ? "fail-closed" : "fail-open",
    timeoutMs: Number.isInteger(extra.timeoutMs) && extra.timeoutMs! > 0 ? extra.timeoutMs! : FILE_PLUGIN_TIMEOUT_MS,
    isolation: "inline",
    memoryLimitMb: 0,
    entry: source,
    defaultSettings: {},
  };
  const rt = host.add(manifest, new FileInvoker(plugin.phases), source, false);
  const on = (ctx: Ctx) => enabledFor(true, ctx.config.plugins, plugin.name, ctx.principal.tenant);
  const timeout = (ctx: Ctx) => ctx.config.plugins?.global[plugin.name]?.timeoutMs ?? manifest.timeoutMs;
  const phases: PluginHooks = {};
  for (const hook of Object.keys(plugin.phases) as (keyof PluginHooks)[]) {
    (phases as Record<string, unknown>)[hook] = async (ctx: Ctx, ...args: unknown[]) => {
      if (!on(ctx)) return hook === "onChunk" ? args[0] : undefined;
      const out = await rt.guardedCall(hook, ctx, manifest.defaultSettings, args, timeout(ctx));
      // A skipped onChunk keeps the chunk as it was.
      return hook === "onChunk" && out === undefined ? args[0] : out;
    };
  }
  return { ...plugin, phases };
}
