/** The operator CLI rebuilds the config and usage projections from the log (here: embedded file log and chDB). */
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { post, startTestGateway, waitFor } from "../helpers/gateway.ts";

const ROOT = resolve(import.meta.dir, "../..");
let dir = "";
afterAll(() => rm(dir, { recursive: true, force: true }));

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ["run", "src/cli.ts", ...args], { cwd: ROOT, encoding: "utf8", timeout: 30_000, env: { ...process.env, TOLLGATE_DATA_DIR: dir, KAFKA_BROKERS: "", REDIS_URL: "", CLICKHOUSE_URL: "" } });

describe("tollgate CLI", () => {
  test("config history and projections rebuild config", async () => {
    dir = await mkdtemp(join(tmpdir(), "tollgate-cli-"));
    const gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: "cli-admin-key-0123456789" }, { dataDir: dir });
    const h = { "content-type": "application/json", authorization: "Bearer cli-admin-key-0123456789" };
    expect((await fetch(`${gw.url}/api/v1/providers`, { method: "POST", headers: h, body: JSON.stringify({ id: "e3", kind: "echo" }) })).status).toBe(201);
    await gw.dispose();

    const hist = cli("config", "history");
    expect(hist.status).toBe(0);
    expect(hist.stdout).toMatch(/^0\t\S+\tadmin\tprovider\.created\te3\tv1$/m);

    const rebuilt = cli("projections", "rebuild", "config");
    expect(rebuilt.status).toBe(0);
    expect(rebuilt.stdout).toContain("config projection rebuilt in the memory store: version 1");

    const bad = cli("nonsense");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("usage:");
  });

  test("projections rebuild usage: refuses while a gateway holds the embedded store, then drops and replays exactly", async () => {
    const usageDir = await mkdtemp(join(tmpdir(), "tollgate-cli-usage-"));
    const ADMIN = "cli-usage-admin-key-0123456789";
    const summary = async (url: string) =>
      ((await (await fetch(`${url}/api/v1/usage/summary?days=1`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { data?: { requests: number; cost_micros: number } }).data;
    try {
      let gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN, TOLLGATE_ANALYTICS: "on" }, { dataDir: usageDir });
      for (let i = 0; i < 5; i++) expect((await post(`${gw.url}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content: `hello ${i}` }] })).status).toBe(200);
      const completed = (await gw.events()).filter((e) => e.type === "request.completed").length;
      expect(completed).toBe(5);
      await waitFor(async () => (await summary(gw.url))?.requests === 5, 20_000, "projection");
      const before = await summary(gw.url);

      const busy = spawnSync(process.execPath, ["run", "src/cli.ts", "projections", "rebuild", "usage"], { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, TOLLGATE_DATA_DIR: usageDir, KAFKA_BROKERS: "", REDIS_URL: "", CLICKHOUSE_URL: "" } });
      expect(busy.status).toBe(1);
      expect(busy.stderr).toContain("is in use by another process");
      expect(busy.stderr).toContain("POST /api/v1/admin/projections/usage/rebuild");
      // A second gateway on the same data dir refuses to start (exit 2), instead of corrupting the log.
      const second = spawnSync(process.execPath, ["run", "src/main.ts"], { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, PORT: "0", TOLLGATE_DATA_DIR: usageDir, KAFKA_BROKERS: "", REDIS_URL: "", CLICKHOUSE_URL: "" } });
      expect(second.status).toBe(2);
      expect(second.stderr).toContain("is in use by another process");
      await gw.stop();

      const rebuilt = spawnSync(process.execPath, ["run", "src/cli.ts", "projections", "rebuild", "usage"], { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, TOLLGATE_DATA_DIR: usageDir, KAFKA_BROKERS: "", REDIS_URL: "", CLICKHOUSE_URL: "" } });
      expect(rebuilt.stderr).toBe("");
      expect(rebuilt.status).toBe(0);
      expect(rebuilt.stdout).toMatch(/usage projection rebuilt in chdb \(database tollgate\): 5 requests replayed/);

      gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN, TOLLGATE_ANALYTICS: "on" }, { dataDir: usageDir });
      await waitFor(async () => gw.analytics?.status().state === "ready", 20_000, "analytics ready");
      expect(await summary(gw.url)).toEqual(before);
      await gw.stop();
    } finally {
      await rm(usageDir, { recursive: true, force: true });
    }
  }, 120_000);
});
