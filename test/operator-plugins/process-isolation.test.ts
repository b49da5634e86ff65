/**
 * Issue 22, finding 6: an `isolation: "process"` plugin runs in its own Bun process with an
 * empty environment: it cannot read the gateway's secrets from its env, its /proc/self/environ,
 * the gateway's /proc/<pid>/environ, or a process it spawns. (A `worker` plugin could do all of
 * that.) It still works like any plugin: it changes the request and emits events. A manifest
 * whose entry points outside its folder does not load.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { adminHeaders, post, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { chatBody, folderPlugin, pluginsDir, rawFile } from "./fixtures.ts";

const CANARY = `canary-${crypto.randomUUID()}`;
let gw: TestGateway;
let dir = "";

// The probe: what can the plugin see? It reports by emitting an event and tags the request.
const PROBE = `{
  async inspect(ctx) {
    const { readFileSync } = await import("node:fs");
    const read = (p) => { try { return readFileSync(p, "utf8"); } catch (e) { return "ERR:" + e.code; } };
    const ppid = process.ppid;
    let child = "";
    try { child = Bun.spawnSync({ cmd: ["/bin/sh", "-c", "env"], env: undefined }).stdout.toString(); } catch (e) { child = "ERR:" + e.message; }
    ctx.emit({ type: "probe", payload: {
      pid: process.pid,
      envHas: JSON.stringify(process.env).includes("${CANARY}"),
      selfEnvironHas: read("/proc/self/environ").includes("${CANARY}"),
      parent: read("/proc/" + ppid + "/environ").includes("${CANARY}") ? "readable" : read("/proc/" + ppid + "/environ").slice(0, 12),
      childEnvHas: child.includes("${CANARY}"),
    } });
    const last = ctx.request.messages.at(-1);
    if (last && typeof last.content === "string") last.content += " [via process]";
  },
}`;

beforeAll(async () => {
  process.env.TOLLGATE_TEST_CANARY = CANARY; // a secret in the gateway's environment
  dir = pluginsDir();
  folderPlugin(dir, "prober", `{ name: "prober", version: "1", phases: ["inspect"], events: ["probe"], isolation: "process", timeoutMs: 10000 }`, PROBE);
  folderPlugin(dir, "escaper", `{ name: "escaper", version: "1", phases: ["inspect"], entry: "../outside/index.ts" }`, `{ inspect() {} }`);
  rawFile(dir, "outside/index.ts", `export default { hooks: { inspect() {} } };\n`);
  gw = await startTestGateway({ TOLLGATE_PLUGINS_DIR: dir });
});
afterAll(async () => {
  delete process.env.TOLLGATE_TEST_CANARY;
  await gw?.dispose();
});

describe("isolation: process", () => {
  test("the plugin works (changes the request, emits) from another process that sees no secret", async () => {
    const res = await post(`${gw.url}/v1/chat/completions`, chatBody("hello"));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe("hello [via process]");
    const probe = (await gw.events()).find((e) => e.type.endsWith("probe"));
    expect(probe).toBeDefined();
    const p = probe!.payload as { pid: number; envHas: boolean; selfEnvironHas: boolean; parent: string; childEnvHas: boolean };
    expect(p.pid).not.toBe(process.pid);
    expect(p.envHas).toBe(false);
    expect(p.selfEnvironHas).toBe(false);
    expect(p.childEnvHas).toBe(false);
    expect(p.parent).not.toBe("readable"); // the gateway made itself non-dumpable
  }, 60_000);

  test("the admin listing shows the isolation; an entry outside the folder did not load", async () => {
    const list = (await (await fetch(`${gw.url}/api/v1/admin/plugins`, { headers: adminHeaders(gw.adminKey) })).json()) as { data: { name: string; isolation: string }[]; failed: { name: string; reason?: string; error?: string }[] };
    expect(list.data.find((p) => p.name === "prober")?.isolation).toBe("process");
    expect(list.data.some((p) => p.name === "escaper")).toBe(false);
    expect(JSON.stringify(list.failed)).toContain("outside the plugin's folder");
  });
});
