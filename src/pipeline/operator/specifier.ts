/**
 * The plugin API under stable specifiers, resolvable from any folder: a plugin anywhere on disk
 * (`TOLLGATE_PLUGINS_DIR=/etc/tollgate/plugins`, a mounted volume in a container) writes
 *
 *   import { definePlugin, defineManifest, refuse, Type } from "tollgate/plugin";
 *
 * and gets this gateway's API, whatever its own location. Registered as Bun virtual modules
 * (`Bun.plugin` → `builder.module`) in the gateway's thread before plugins are imported, and in
 * every plugin worker thread (worker-entry.ts) — a virtual module is per thread.
 *
 * - `tollgate/plugin`: folder plugins (`manifest.ts` + `index.ts`): `definePlugin({ hooks })`,
 *   `defineManifest`, `refuse`, `Type`, the restricted context's types (./api.ts);
 * - `tollgate/pipeline`: single-file plugins with the gateway's full ctx:
 *   `definePipelinePlugin({ name, version, phases })` (../plugin.ts) and `GatewayError`.
 */
import { plugin } from "bun";
import { fileURLToPath } from "node:url";

/** Specifier → the module it stands for. Inside the repo, tsconfig `paths` maps the same names for type checking. */
export const PLUGIN_SPECIFIERS: Readonly<Record<string, string>> = {
  "tollgate/plugin": fileURLToPath(new URL("./api.ts", import.meta.url)),
  "tollgate/pipeline": fileURLToPath(new URL("./pipeline-api.ts", import.meta.url)),
};

let registered = false;

/** Make `tollgate/plugin` and `tollgate/pipeline` importable in this thread (idempotent). */
export function registerPluginSpecifiers(): void {
  if (registered) return;
  registered = true;
  plugin({
    name: "tollgate-plugin-api",
    setup(builder) {
      for (const [specifier, file] of Object.entries(PLUGIN_SPECIFIERS)) {
        builder.module(specifier, () => ({ contents: `export * from ${JSON.stringify(file)};`, loader: "ts" }));
      }
    },
  });
}

/**
 * A plugin's import error, with the fix when it is the usual one: an import of the gateway's
 * source by a relative path (works only in the repo's own `plugins/`) or of a package the
 * gateway does not have.
 */
export function explainLoadError(err: unknown): string {
  const message = (err as Error)?.message ?? String(err);
  const m = /Cannot find (?:module|package) ['"]([^'"]+)['"]/.exec(message);
  if (!m) return message;
  const what = m[1]!;
  if (/(^|\/)src\/pipeline\/|^\.\.?\//.test(what) && /pipeline|operator|api\.ts|plugin\.ts/.test(what)) {
    return `${message} — import the plugin API as "tollgate/plugin" (folder plugins) or "tollgate/pipeline" (single-file plugins): those names resolve from any folder, a relative path into the gateway's src/ only from the repo's own plugins/`;
  }
  if (what.startsWith("tollgate")) return `${message} — the gateway publishes only "tollgate/plugin" and "tollgate/pipeline"`;
  return `${message} — a plugin outside the repo can import "tollgate/plugin", "tollgate/pipeline", node: built-ins and its own relative files; bundle any other package into the plugin (e.g. \`bun build --target=bun\`)`;
}
