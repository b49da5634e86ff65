/** The operator CLI rebuilds the config projection from the log (here: embedded file log). */
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startTestGateway } from "../helpers/gateway.ts";

const ROOT = resolve(import.meta.dir, "../..");
let dir = "";
afterAll(() => rm(dir, { recursive: true, force: true }));

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ["run", "src/cli.ts", ...args], { cwd: ROOT, encoding: "utf8", timeout: 30_000, env: { ...process.env, TOLLGATE_DATA_DIR: dir, KAFKA_BROKERS: "", REDIS_URL: "" } });

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
});
