/**
 * Issue 22, finding 6: an `isolation: "process"` plugin runs in its own Bun process with an
 * empty environment: it cannot read the gateway's secrets from its env, its /proc/self/environ,
 * the gateway's /proc/<pid>/environ, or a process it spawns. (A `worker` plugin could do all of
 * that.) It still works like any plugin: it changes the request and emits events. A manifest
 * whose entry points outside its folder does not load.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { adminHeaders, post, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { chatBody, folderPlugin, pluginsDir, rawFile } from "./fixtures.ts";

const CANARY = `canary-${crypto.randomUUID()}`;
let gw: TestGateway;
let dir = "";
// The gateway's data dir, with a secret file in it: a process plugin must not read it.
const dataDir = mkdtempSync(join(tmpdir(), "tollgate-iso-data-"));
writeFileSync(join(dataDir, "secret.txt"), CANARY);
const REPO_README = resolve(import.meta.dir, "../../README.md");

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
      dataFile: read("${join(dataDir, "secret.txt")}").slice(0, 12),
      dataDir: (() => { try { return String(require("node:fs").readdirSync("${dataDir}").length); } catch (e) { return "ERR:" + e.code; } })(),
      eventLog: read("${join(dataDir, "log")}"),
      repoFile: read("${REPO_README}").slice(0, 12),
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
  gw = await startTestGateway({ TOLLGATE_PLUGINS_DIR: dir }, { dataDir });
});
afterAll(async () => {
  delete process.env.TOLLGATE_TEST_CANARY;
  await gw?.dispose();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("isolation: process", () => {
  test("the plugin works (changes the request, emits) from another process that sees no secret", async () => {
    const res = await post(`${gw.url}/v1/chat/completions`, chatBody("hello"));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe("hello [via process]");
    const probe = (await gw.events()).find((e) => e.type.endsWith("probe"));
    expect(probe).toBeDefined();
    const p = probe!.payload as { pid: number; envHas: boolean; selfEnvironHas: boolean; parent: string; childEnvHas: boolean; dataFile: string; dataDir: string; eventLog: string; repoFile: string };
    expect(p.pid).not.toBe(process.pid);
    expect(p.envHas).toBe(false);
    expect(p.selfEnvironHas).toBe(false);
    expect(p.childEnvHas).toBe(false);
    expect(p.parent).not.toBe("readable"); // the gateway made itself non-dumpable
    // Landlock: the data dir (and anything else of the gateway's user) is out of reach.
    expect({ dataFile: p.dataFile, dataDir: p.dataDir, eventLog: p.eventLog.slice(0, 10), repoFile: p.repoFile }).toEqual({ dataFile: "ERR:EACCES", dataDir: "ERR:EACCES", eventLog: "ERR:EACCES", repoFile: "ERR:EACCES" });
  }, 60_000);

  test("the admin listing shows the isolation; an entry outside the folder did not load", async () => {
    const list = (await (await fetch(`${gw.url}/api/v1/admin/plugins`, { headers: adminHeaders(gw.adminKey) })).json()) as { data: { name: string; isolation: string }[]; failed: { name: string; reason?: string; error?: string }[] };
    expect(list.data.find((p) => p.name === "prober")?.isolation).toBe("process");
    expect(list.data.some((p) => p.name === "escaper")).toBe(false);
    expect(JSON.stringify(list.failed)).toContain("outside the plugin's folder");
  });
});
