/**
 * Loading operators' plugins without ever stopping the gateway. In the plugins directory:
 *  - a folder with `manifest.ts` is a folder plugin (manifest + entry, inline or worker);
 *  - any other `*.ts` / `*.js` file, or folder with an `index.ts`, is today's single-file form.
 * A bad manifest, an import error or invalid default settings is reported through
 * `host.failed` (log line, `plugin.failed`, admin listing) and the plugin is left out.
 */
import { existsSync, readdirSync, realpathSync, statSync } from "node:fs";
import { basename, isAbsolute, join, relative, resolve } from "node:path";
import type { StateStore } from "../../stores/state-store.ts";
import { definePlugin as defineFilePlugin, type Plugin } from "../plugin.ts";
import type { OperatorPluginDefinition } from "./api.ts";
import { guardFilePlugin } from "./file-plugin.ts";
import { HOST_NAME, type PluginHost } from "./host.ts";
import { InlineInvoker } from "./inline.ts";
import { parseManifest } from "./manifest.ts";
import { WorkerInvoker } from "./worker-host.ts";
import { explainLoadError, registerPluginSpecifiers } from "./specifier.ts";

const SKIP = (name: string) => name.startsWith("_") || name.startsWith(".") || /\.test\.[cm]?[jt]s$/.test(name) || name.endsWith(".d.ts");
const RESERVED = new Set([HOST_NAME, "auth", "routing", "limits", "provider-call"]);

/**
 * Load every plugin under `dir` into `host`. Returns the single-file plugins (guarded, for the
 * pipeline) — folder plugins run through `host.plugin()`.
 */
export async function discoverPlugins(dir: string, host: PluginHost, store: StateStore): Promise<Plugin[]> {
  const root = resolve(dir);
  if (!existsSync(root)) return [];
  registerPluginSpecifiers(); // `tollgate/plugin`, `tollgate/pipeline` resolve from any folder
  const files: Plugin[] = [];
  const seen = new Set<string>();
  const claim = (name: string, source: string): boolean => {
    if (seen.has(name) || RESERVED.has(name)) {
      host.failed(name, source, RESERVED.has(name) ? `the name \`${name}\` is reserved` : `another plugin is already named \`${name}\``);
      return false;
    }
    seen.add(name);
    return true;
  };
  for (const name of readdirSync(root).sort()) {
    if (SKIP(name)) continue;
    const full = join(root, name);
    const isDir = statSync(full).isDirectory();
    const manifestFile = isDir ? ["manifest.ts", "manifest.js"].map((f) => join(full, f)).find(existsSync) : undefined;
    if (manifestFile) {
      await loadFolder(full, manifestFile, host, store, claim);
      continue;
    }
    const entry = isDir ? ["index.ts", "index.js"].map((f) => join(full, f)).find(existsSync) : /\.[cm]?[jt]s$/.test(name) ? full : undefined;
    if (!entry) continue;
    try {
      const mod = (await import(entry)) as { default?: unknown };
      let exported = mod.default;
      if (typeof exported === "function") exported = await (exported as () => unknown)();
      const plugin = defineFilePlugin(exported as Plugin);
      if (claim(plugin.name, entry)) files.push(guardFilePlugin(host, plugin, entry));
    } catch (err) {
      host.failed(basename(name).replace(/\.[cm]?[jt]s$/, ""), entry, explainLoadError(err));
    }
  }
  return files;
}

async function loadFolder(dir: string, manifestFile: string, host: PluginHost, store: StateStore, claim: (name: string, source: string) => boolean): Promise<void> {
  let manifest;
  try {
    const mod = (await import(manifestFile)) as { default?: unknown };
    manifest = parseManifest(mod.default);
  } catch (err) {
    host.failed(basename(dir), manifestFile, explainLoadError(err));
    return;
  }
  if (!claim(manifest.name, dir)) return;
  const entry = resolve(dir, manifest.entry);
  if (!existsSync(entry)) return host.failed(manifest.name, dir, `entry \`${manifest.entry}\` not found`);
  // The entry stays inside the plugin's folder (also through symlinks): no `../../src/…` or `/etc/…`.
  if (!isInside(realpathSync(dir), realpathSync(entry))) return host.failed(manifest.name, dir, `entry \`${manifest.entry}\` is outside the plugin's folder`);
  try {
    if (manifest.isolation === "worker" || manifest.isolation === "process") {
      const invoker = new WorkerInvoker({ name: manifest.name, entry, memoryLimitMb: manifest.memoryLimitMb, store, mode: manifest.isolation, dir });
      try {
        await invoker.start(); // import errors show up now, not on the first request
        const missing = manifest.phases.filter((p) => !invoker.hooks.includes(p));
        if (missing.length) throw new Error(`the manifest lists hooks the entry does not define: ${missing.join(", ")}`);
      } catch (err) {
        await invoker.stop();
        throw err;
      }
      host.add(manifest, invoker, dir);
      return;
    }
    const mod = (await import(entry)) as { default?: unknown };
    // A factory (`export default () => definePlugin(...)`) gives each gateway its own instance.
    const def = (typeof mod.default === "function" ? await (mod.default as () => unknown)() : mod.default) as OperatorPluginDefinition | undefined;
    if (!def || typeof def !== "object" || !def.hooks || typeof def.hooks !== "object") throw new Error("the entry's default export is not a definePlugin(...) value");
    const missing = manifest.phases.filter((p) => typeof (def.hooks as Record<string, unknown>)[p] !== "function");
    if (missing.length) throw new Error(`the manifest lists hooks the entry does not define: ${missing.join(", ")}`);
    host.add(manifest, new InlineInvoker(manifest.name, def, store), dir);
  } catch (err) {
    host.failed(manifest.name, dir, explainLoadError(err));
  }
}

/** Whether `path` is `dir` itself or below it (both already resolved). */
function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}
