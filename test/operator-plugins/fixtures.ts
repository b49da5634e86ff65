/** Writes operator plugins into a temporary plugins directory for tests. */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const API = resolve(import.meta.dir, "../../src/pipeline/operator/api.ts");
export const LEGACY_API = resolve(import.meta.dir, "../../src/pipeline/plugin.ts");

export function pluginsDir(): string {
  return mkdtempSync(join(tmpdir(), "tollgate-oplugins-"));
}

/** A folder plugin: `manifest` is the object literal source (may use `Type`), `hooks` the hooks object source. */
export function folderPlugin(dir: string, folder: string, manifest: string, hooks: string, extra = ""): string {
  const d = join(dir, folder);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, "manifest.ts"), `import { defineManifest, Type } from "${API}";\nexport default defineManifest(${manifest});\n`);
  writeFileSync(join(d, "index.ts"), `import { definePlugin, refuse } from "${API}";\n${extra}\nexport default definePlugin({ hooks: ${hooks} });\n`);
  return d;
}

export function rawFile(dir: string, path: string, body: string): void {
  mkdirSync(join(dir, path, ".."), { recursive: true });
  writeFileSync(join(dir, path), body);
}

export function chatBody(content: string, model = "echo") {
  return { model, messages: [{ role: "user", content }] };
}
