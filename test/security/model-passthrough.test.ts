/**
 * Issue 22, finding 4 (second half): a tenant can forbid `provider/<anything>` pass-through —
 * its `models` list binds every key of the tenant, as a key's own list binds that key.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { adminHeaders, post, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

let gw: TestGateway;
let key = "";
beforeAll(async () => {
  gw = await startTestGateway();
  expect((await post(`${gw.url}/api/v1/admin/tenants`, { id: "strict", name: "Strict", models: ["echo"] }, adminHeaders(gw.adminKey))).status).toBe(201);
  const created = await post(`${gw.url}/api/v1/admin/keys`, { tenant_id: "strict" }, adminHeaders(gw.adminKey));
  key = ((await created.json()) as { key: string }).key;
});
afterAll(() => gw?.dispose());

const chat = (model: string) => post(`${gw.url}/v1/chat/completions`, { model, messages: [{ role: "user", content: "hi" }] }, { authorization: `Bearer ${key}` });

test("a tenant's models list refuses pass-through to unlisted models for every key, before any routing", async () => {
  expect((await chat("echo")).status).toBe(200);
  const before = gw.pipeline.active;
  for (const model of ["echo/random-1", "echo/random-2", "openai/whatever"]) {
    const res = await chat(model);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string; param: string } }).error).toMatchObject({ code: "model_not_allowed", param: "model" });
  }
  expect(gw.pipeline.active).toBe(before);
  // Refused at auth: no routing target was created for them.
  const health = (await (await fetch(`${gw.url}/v1/providers/echo/health`, { headers: { authorization: `Bearer ${key}` } })).json()) as { targets: { model: string }[] };
  expect(health.targets.map((t) => t.model)).not.toContain("random-1");
});
