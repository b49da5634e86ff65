/**
 * Issue 24 item 1: a plugin anywhere on disk imports the API as "tollgate/plugin" (folder
 * plugins, inline and worker) or "tollgate/pipeline" (single-file), and it loads and runs; the
 * old relative import fails with an error that names the fix.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { post, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const ADMIN = "specifier-admin-key-0123456789";
const A = { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" };
const REPO = resolve(import.meta.dir, "../..");
let dir: string;
let gw: TestGateway;

function folder(name: string, isolation: "inline" | "worker", word: string): void {
  const d = join(dir, name);
  mkdirSync(d);
  writeFileSync(join(d, "manifest.ts"), `import { defineManifest, Type } from "tollgate/plugin";
export default defineManifest({ name: "${name}", version: "1.0.0", phases: ["inspect"], isolation: "${isolation}", failurePolicy: "fail-closed",
  settings: Type.Object({ word: Type.String({ default: "${word}" }) }) });
`);
  writeFileSync(join(d, "index.ts"), `import { definePlugin, refuse } from "tollgate/plugin";
export default definePlugin<{ word: string }>({ hooks: { inspect(ctx) {
  if (JSON.stringify(ctx.request.messages).includes(ctx.settings.word)) throw refuse(400, "${name.replace("-", "_")}_blocked", "blocked by ${name}");
} } });
`);
}

beforeAll(async () => {
  // A temp dir outside the repo: no node_modules, no tsconfig above it.
  dir = realpathSync(mkdtempSync(join(tmpdir(), "tollgate-ext-plugins-")));
  expect(dir.startsWith(REPO)).toBe(false);
  folder("ext-inline", "inline", "alpha-word");
  folder("ext-worker", "worker", "beta-word");
  writeFileSync(join(dir, "ext-file.ts"), `import { definePipelinePlugin, GatewayError } from "tollgate/pipeline";
export default definePipelinePlugin({ name: "ext-file", version: "1.0.0", phases: { inspect(ctx) {
  if (JSON.stringify(ctx.request.messages).includes("gamma-word")) throw new GatewayError({ status: 400, code: "ext_file_blocked", message: "blocked by ext-file" });
} } });
`);
  // The form docs used to show: a relative import into the gateway's src/.
  mkdirSync(join(dir, "old-style"));
  writeFileSync(join(dir, "old-style", "manifest.ts"), `import { defineManifest } from "../../src/pipeline/operator/api.ts";
export default defineManifest({ name: "old-style", version: "1.0.0", phases: ["inspect"] });
`);
  writeFileSync(join(dir, "old-style", "index.ts"), `export default { hooks: { inspect() {} } };\n`);
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN, TOLLGATE_PLUGINS_DIR: dir });
});
afterAll(async () => {
  await gw?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const chat = (text: string) => post(`${gw.url}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content: text }] });

describe("plugins outside the source tree", () => {
  test("folder plugins (inline and worker) and a single-file plugin load from a temp dir", async () => {
    const list = (await (await fetch(`${gw.url}/api/v1/admin/plugins`, { headers: A })).json()) as { data: Array<{ name: string; status: string }>; failed: Array<{ name: string; reason: string }> };
    const names = list.data.map((p) => p.name);
    for (const n of ["ext-inline", "ext-worker", "ext-file"]) expect(names).toContain(n);
    expect(list.failed.map((f) => f.name)).not.toContain("ext-inline");
  });

  test("and run: each refuses its word, other prompts pass", async () => {
    for (const [word, code] of [["alpha-word", "ext_inline_blocked"], ["beta-word", "ext_worker_blocked"], ["gamma-word", "ext_file_blocked"]] as const) {
      const r = await chat(`say ${word} please`);
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe(code);
    }
    const ok = await chat("nothing to see");
    expect(ok.status).toBe(200);
  });

  test("a relative import into src/ fails with an error naming the fix", async () => {
    const list = (await (await fetch(`${gw.url}/api/v1/admin/plugins`, { headers: A })).json()) as { failed: Array<{ name: string; reason: string }> };
    const failed = list.failed.find((f) => f.name === "old-style");
    expect(failed).toBeDefined();
    expect(failed!.reason).toContain('"tollgate/plugin"');
  });
});
