/** Embedded mode: the in-process state is rebuilt from the file log on every start. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestGateway } from "../helpers/gateway.ts";

const ADMIN = "restart-admin-key-0123456789";
let dir = "";
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("embedded restart", () => {
  test("config made through the admin API is identical after a restart (rebuilt from the file log)", async () => {
    dir = await mkdtemp(join(tmpdir(), "tollgate-restart-"));
    const env = { TOLLGATE_ADMIN_KEY: ADMIN };
    const first = await startTestGateway(env, { dataDir: dir });
    const h = { "content-type": "application/json", authorization: `Bearer ${ADMIN}` };
    expect((await fetch(`${first.url}/api/v1/providers`, { method: "POST", headers: h, body: JSON.stringify({ id: "e2", kind: "echo", models: ["m2"] }) })).status).toBe(201);
    expect((await fetch(`${first.url}/api/v1/models`, { method: "POST", headers: h, body: JSON.stringify({ id: "alias2", provider: "e2", model: "m2" }) })).status).toBe(201);
    const snapshot = first.snapshot;
    const state = first.config.state;
    await first.dispose();
    const second = await startTestGateway(env, { dataDir: dir });
    expect(second.snapshot).toEqual(snapshot);
    expect(second.config.state).toEqual(state);
    expect(await second.store.hgetall("config:model_alias")).toMatchObject({ alias2: expect.any(String) });
    await second.dispose();
  });
});
