import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadPlugins, PluginLoadError } from "../../src/pipeline/loader.ts";
import { Pipeline } from "../../src/pipeline/runner.ts";
import { builtinPlugins } from "../../src/main.ts";
import { echoProvider } from "../../src/providers/echo.ts";
import { completedEvent, testCtx } from "./helpers.ts";

const SRC = resolve(import.meta.dir, "../../src");
const dir = mkdtempSync(join(tmpdir(), "tollgate-plugins-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("loadPlugins", () => {
  test("loads the example plugins; an operator plugin runs with the same contract as built-ins", async () => {
    const plugins = await loadPlugins(resolve(import.meta.dir, "../../plugins/examples"));
    expect(plugins.map((p) => p.name).sort()).toEqual(["block-words", "slow-request-log"]);
    const pipeline = new Pipeline([...builtinPlugins(), ...plugins]);
    const { ctx, events } = testCtx({ messages: [{ role: "user", content: "say the forbidden-word" }] }, { providers: [echoProvider()] });
    const err = await pipeline.run(ctx).catch((e) => e);
    expect(err.code).toBe("content_blocked");
    expect(events.some((e) => e.type === "guardrail.blocked")).toBe(true);
    expect(completedEvent(events)).toMatchObject({ status: "error", errorCode: "content_blocked" });
  });

  test("a missing directory loads nothing", async () => {
    expect(await loadPlugins(join(dir, "absent"))).toEqual([]);
  });

  test("files starting with _ and test files are skipped; folders load their index", async () => {
    const d = join(dir, "mixed");
    mkdirSync(join(d, "folder-plugin"), { recursive: true });
    const body = (name: string) => `import { definePlugin } from "${SRC}/pipeline/plugin.ts";\nexport default definePlugin({ name: "${name}", version: "1", phases: {} });\n`;
    writeFileSync(join(d, "_disabled.ts"), body("disabled"));
    writeFileSync(join(d, "thing.test.ts"), body("test-file"));
    writeFileSync(join(d, "real.ts"), body("real"));
    writeFileSync(join(d, "folder-plugin", "index.ts"), body("from-folder"));
    // a factory export is called
    writeFileSync(join(d, "factory.ts"), `import { definePlugin } from "${SRC}/pipeline/plugin.ts";\nexport default () => definePlugin({ name: "made", version: "2", phases: {} });\n`);
    expect((await loadPlugins(d)).map((p) => p.name)).toEqual(["made", "from-folder", "real"]);
  });

  test("a broken plugin stops the start with a message naming the file", async () => {
    const d = join(dir, "broken");
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "bad.ts"), `export default { name: "bad", phases: { inspect: 1 } };\n`);
    const err = await loadPlugins(d).catch((e) => e);
    expect(err).toBeInstanceOf(PluginLoadError);
    expect(err.message).toContain("bad.ts");
  });

  test("settings are validated against the plugin's configSchema", async () => {
    const d = join(dir, "configured");
    mkdirSync(d, { recursive: true });
    writeFileSync(
      join(d, "p.ts"),
      `import { Type } from "${SRC}/../node_modules/@sinclair/typebox/build/esm/index.mjs";\nimport { definePlugin } from "${SRC}/pipeline/plugin.ts";\nexport default definePlugin({ name: "p", version: "1", configSchema: Type.Object({ limit: Type.Integer({ minimum: 1 }) }), phases: {} });\n`,
    );
    expect((await loadPlugins(d, { p: { limit: 5 } }))[0]!.config).toEqual({ limit: 5 });
    const err = await loadPlugins(d, { p: { limit: 0 } }).catch((e) => e);
    expect(err).toBeInstanceOf(PluginLoadError);
    expect(err.message).toContain("/limit");
  });
});
