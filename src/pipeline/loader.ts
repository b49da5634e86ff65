/**
 * Strict loader of single-file plugins from a directory (tools and tests): every `*.ts` / `*.js`
 * file (or folder with an `index.ts` / `index.js`) whose default export is a plugin made with
 * `definePlugin`, or a function returning one; the first broken one throws. Files starting with
 * `_` or `.` and `*.test.*` are skipped. The gateway itself loads through
 * `operator/discover.ts`, which never stops the start and also loads folder plugins.
 */
import { Value } from "@sinclair/typebox/value";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { definePlugin, type Plugin } from "./plugin.ts";

export class PluginLoadError extends Error {
  override name = "PluginLoadError";
}

function entryFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith("_") || name.startsWith(".") || /\.test\.[cm]?[jt]s$/.test(name) || name.endsWith(".d.ts")) continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) {
      const index = ["index.ts", "index.js"].map((f) => join(full, f)).find(existsSync);
      if (index) out.push(index);
    } else if (/\.[cm]?[jt]s$/.test(name)) {
      out.push(full);
    }
  }
  return out;
}

/**
 * @param settings per-plugin settings by plugin name, validated against each `configSchema`.
 */
export async function loadPlugins(dir: string, settings: Record<string, unknown> = {}): Promise<Plugin[]> {
  const plugins: Plugin[] = [];
  for (const file of entryFiles(resolve(dir))) {
    let mod: { default?: unknown };
    try {
      mod = await import(file);
    } catch (err) {
      throw new PluginLoadError(`plugin ${file}: failed to load: ${(err as Error).message}`);
    }
    let exported = mod.default;
    if (typeof exported === "function") exported = await (exported as () => unknown)();
    let plugin: Plugin;
    try {
      plugin = definePlugin(exported as Plugin);
    } catch (err) {
      throw new PluginLoadError(`plugin ${file}: ${(err as Error).message}`);
    }
    const config = settings[plugin.name] ?? plugin.config;
    if (plugin.configSchema && config !== undefined) {
      const problems = [...Value.Errors(plugin.configSchema, config)].slice(0, 5).map((e) => `${e.path || "/"}: ${e.message}`);
      if (problems.length) throw new PluginLoadError(`plugin ${plugin.name}: invalid settings: ${problems.join("; ")}`);
      plugin = { ...plugin, config };
    }
    plugins.push(plugin);
  }
  return plugins;
}
