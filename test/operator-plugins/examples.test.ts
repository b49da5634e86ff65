/** The example plugins in the repo's plugins/ folder (max-cost, keyword-policy — the one docs/plugins.md builds), loaded as a gateway loads them. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { worstCaseUsd } from "../../plugins/max-cost/estimate.ts";
import { adminHeaders, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { chatBody } from "./fixtures.ts";

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_PLUGINS_DIR: resolve(import.meta.dir, "../../plugins") });
  const price = await fetch(`${gw.url}/api/v1/prices`, { method: "POST", headers: adminHeaders(), body: JSON.stringify({ id: "echo/echo", input: 1000, output: 2000 }) });
  expect(price.status).toBe(201);
}, 60_000);
afterAll(() => gw?.dispose());

const put = (body: unknown) => fetch(`${gw.url}/api/v1/admin/tenants/default/plugins/max-cost`, { method: "PUT", headers: adminHeaders(), body: JSON.stringify(body) });
async function chat(extra: Record<string, unknown>) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...chatBody("how much is this"), ...extra }) });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; param: string } } };
}

describe("max-cost", () => {
  test("the repo's example plugins load", async () => {
    const names = ((await (await fetch(`${gw.url}/api/v1/admin/plugins`, { headers: adminHeaders() })).json()) as { data: { name: string }[]; failed: unknown[] });
    expect(names.data.map((p) => p.name).sort()).toEqual(["keyword-policy", "max-cost", "webhook-notifier"]);
    expect(names.failed).toEqual([]);
  });

  test("off by default; on for a tenant it refuses over the cap with a stable code, and lets cheaper requests through", async () => {
    expect((await chat({ max_tokens: 4000 })).status).toBe(200);
    expect((await put({ enabled: true, settings: { max_usd_per_request: 0.05 } })).status).toBe(201);
    const refused = await chat({ max_tokens: 4000 }); // ≈ 4000 × $2000/M = $8
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: "request_too_expensive", param: "max_tokens" });
    expect((await chat({ max_tokens: 10 })).status).toBe(200);
    expect((await gw.events()).some((e) => e.type === "plugin.max-cost.refused")).toBe(true);
  });

  test("a cap that is not a positive number is refused by the schema", async () => {
    const res = await put({ enabled: true, settings: { max_usd_per_request: -1 } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe("settings.max_usd_per_request");
  });

  test("worstCaseUsd: prompt and output at their prices per million tokens", () => {
    expect(worstCaseUsd(1000, 500, { input: 3, output: 15 })).toBeCloseTo(0.0105, 10);
  });
});

describe("keyword-policy (the docs/plugins.md tutorial)", () => {
  const putKw = (tenant: string, body: unknown) => fetch(`${gw.url}/api/v1/admin/tenants/${tenant}/plugins/keyword-policy`, { method: "PUT", headers: adminHeaders(), body: JSON.stringify(body) });
  const say = async (content: string) => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(chatBody(content)) });
    return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
  };

  test("refuses the tenant's words (case-insensitive) with content_blocked and an event without the prompt", async () => {
    expect((await put({ enabled: false })).status).toBe(200); // max-cost off again for this tenant
    expect((await say("all about Project-X")).status).toBe(200);
    expect((await putKw("default", { enabled: true, settings: { words: ["project-x"] } })).status).toBe(201);
    const r = await say("all about Project-X");
    expect(r).toMatchObject({ status: 400, body: { error: { code: "content_blocked" } } });
    expect((await say("all about project-y")).status).toBe(200);
    const ev = (await gw.events()).find((e) => e.type === "plugin.keyword-policy.blocked");
    expect(ev?.payload).toEqual({ rule: "keyword" });
  });

  test("an empty word is refused by the schema", async () => {
    const res = await putKw("default", { settings: { words: [""] } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe("settings.words.0");
  });
});
