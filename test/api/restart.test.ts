/** Embedded mode: the in-process state is rebuilt from the file log on every start. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { post, startTestGateway } from "../helpers/gateway.ts";

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

describe("embedded restart: budget spend", () => {
  test("the current period's spend comes back from the log, so a restart never re-opens a spent budget", async () => {
    const d = await mkdtemp(join(tmpdir(), "tollgate-spend-"));
    try {
      const env = { TOLLGATE_ADMIN_KEY: ADMIN };
      const h = { "content-type": "application/json", authorization: `Bearer ${ADMIN}` };
      const first = await startTestGateway(env, { dataDir: d });
      expect((await fetch(`${first.url}/api/v1/admin/tenants`, { method: "POST", headers: h, body: JSON.stringify({ id: "t1", name: "T1" }) })).status).toBe(201);
      expect((await fetch(`${first.url}/api/v1/prices`, { method: "POST", headers: h, body: JSON.stringify({ id: "echo/echo", input: 1000, output: 2000 }) })).status).toBe(201);
      // ≈ 21,000 micro-USD per request (13 prompt tokens × 1000 + 4 max tokens × 2000 reserved); the budget fits 4.
      const created = (await (await fetch(`${first.url}/api/v1/admin/keys`, { method: "POST", headers: h, body: JSON.stringify({ tenant_id: "t1", name: "b", budget: { amount_usd: 0.1, period: "month" } }) })).json()) as { key: string };
      const chat = (url: string) =>
        post(`${url}/v1/chat/completions`, { model: "echo", max_tokens: 4, messages: [{ role: "user", content: "one two three four five six" }] }, { authorization: `Bearer ${created.key}` });
      const self = async (url: string) =>
        ((await (await fetch(`${url}/api/v1/keys/self`, { headers: { authorization: `Bearer ${created.key}` } })).json()) as { budgets: Array<{ spent_usd: number }> }).budgets[0]!.spent_usd;
      for (let i = 0; i < 3; i++) expect((await chat(first.url)).status).toBe(200);
      const spent = await self(first.url);
      expect(spent).toBeGreaterThan(0.04);
      await first.dispose();

      const second = await startTestGateway(env, { dataDir: d });
      expect(await self(second.url)).toBe(spent);
      // One more fits; the one after would go over, as it would have without the restart.
      expect((await chat(second.url)).status).toBe(200);
      const over = await chat(second.url);
      expect(over.status).toBe(429);
      expect(((await over.json()) as { error: { code: string } }).error.code).toBe("budget_exceeded");
      const afterFour = await self(second.url);
      await second.dispose();

      // A second restart settles each request once: the same spend again.
      const third = await startTestGateway(env, { dataDir: d });
      expect(await self(third.url)).toBe(afterFour);
      await third.dispose();
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});

describe("stored provider keys and the master key", () => {
  test("a restart without TOLLGATE_MASTER_KEY while keys are stored fails at start with a clear error; with it, the key is usable", async () => {
    const d = await mkdtemp(join(tmpdir(), "tollgate-mk-"));
    try {
      const env = { TOLLGATE_ADMIN_KEY: ADMIN, TOLLGATE_MASTER_KEY: "the master key for this test" };
      const first = await startTestGateway(env, { dataDir: d });
      const h = { "content-type": "application/json", authorization: `Bearer ${ADMIN}` };
      const r = await fetch(`${first.url}/api/v1/providers`, { method: "POST", headers: h, body: JSON.stringify({ id: "keyed", kind: "custom", base_url: "http://127.0.0.1:9/v1", api_key: "sk-stored-secret-1234" }) });
      expect(r.status).toBe(201);
      await first.dispose();
      const err = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN }, { dataDir: d }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toContain("TOLLGATE_MASTER_KEY");
      const again = await startTestGateway(env, { dataDir: d });
      expect(again.snapshot.providers.find((p) => p.id === "keyed")?.apiKey).toBe("sk-stored-secret-1234");
      await again.dispose();
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});
