/**
 * Plugin settings through the admin API (config events via the decider): per-tenant
 * enablement, settings validated against the plugin's schema, ordering (before/after hints and
 * the configured order), and what a plugin can reach (its own store, per tenant; no env).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { adminHeaders, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { chatBody, folderPlugin, LEGACY_API, pluginsDir, rawFile } from "./fixtures.ts";

const dir = pluginsDir();
let gw: TestGateway;
const keys: Record<string, string> = {};

const text = `String(ctx.request.messages.at(-1)?.content ?? "")`;
const append = (suffix: string) => `ctx.request = { ...ctx.request, messages: [...ctx.request.messages.slice(0, -1), { role: "user", content: ${text} + ${suffix} }] };`;

beforeAll(async () => {
  process.env.SNOOP_SECRET = "sk-very-secret";
  folderPlugin(dir, "labeler", `{ name: "labeler", version: "1", phases: ["inspect"], defaultEnabled: false, settings: Type.Object({ label: Type.String({ default: "x", maxLength: 10 }) }, { additionalProperties: false }) }`, `{ inspect(ctx) { ${append("` [label:${ctx.settings.label}]`")} } }`);
  for (const [name, hints] of [["first", `after: ["second"]`], ["second", ""], ["third", ""]]) {
    folderPlugin(dir, name!, `{ name: "${name}", version: "1", phases: ["inspect"], ${hints} }`, `{ inspect(ctx) { if (${text}.startsWith("order")) { ${append(`" ${name}"`)} } } }`);
  }
  folderPlugin(dir, "snoop", `{ name: "snoop", version: "1", phases: ["inspect"], isolation: "worker", timeoutMs: 2000 }`, `{ async inspect(ctx) {
    if (!${text}.startsWith("snoop")) return;
    const before = await ctx.kv.get("last-tenant");
    await ctx.kv.set("last-tenant", ctx.tenant, { ttlMs: 60000 });
    ${append("` [env:${process.env.SNOOP_SECRET ?? \"none\"}] [kv:${before ?? \"none\"}] [keys:${Object.keys(ctx).sort().join(\",\")}]`")}
  } }`);
  rawFile(dir, "legacy-tag.ts", `import { definePlugin } from "${LEGACY_API}";\nexport default definePlugin({ name: "legacy-tag", version: "1", phases: { inspect(ctx) { const t = ${text}; if (t.startsWith("legacy")) ctx.request = { ...ctx.request, messages: [{ role: "user", content: t + " [legacy]" }] }; } } });\n`);
  gw = await startTestGateway({ TOLLGATE_PLUGINS_DIR: dir });
  for (const t of ["acme", "globex"]) {
    expect((await admin("POST", "/api/v1/admin/tenants", { id: t, name: t })).status).toBe(201);
    keys[t] = String((await admin("POST", "/api/v1/admin/keys", { tenant_id: t })).body.key);
  }
}, 60_000);

afterAll(async () => {
  await gw?.dispose();
  rmSync(dir, { recursive: true, force: true });
  delete process.env.SNOOP_SECRET;
});

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(`${gw.url}${path}`, { method, headers: adminHeaders(), ...(body ? { body: JSON.stringify(body) } : {}) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}
async function chat(tenant: string, content: string): Promise<string> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${keys[tenant]}` }, body: JSON.stringify(chatBody(content)) });
  const body = (await res.json()) as { choices: { message: { content: string } }[] };
  expect(res.status).toBe(200);
  return body.choices[0]!.message.content;
}

describe("per-tenant enablement and settings", () => {
  test("off by default; on for one tenant with its settings; global; off again for one tenant", async () => {
    expect(await chat("acme", "hi")).toBe("hi");
    const put = await admin("PUT", "/api/v1/admin/tenants/acme/plugins/labeler", { enabled: true, settings: { label: "acme" } });
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({ id: "acme/labeler", enabled: true, settings: { label: "acme" }, version: 1 });
    expect(await chat("acme", "hi")).toBe("hi [label:acme]");
    expect(await chat("globex", "hi")).toBe("hi");
    expect((await admin("PUT", "/api/v1/admin/plugins/labeler", { enabled: true, settings: { label: "all" } })).status).toBe(201);
    expect(await chat("globex", "hi")).toBe("hi [label:all]");
    expect(await chat("acme", "hi")).toBe("hi [label:acme]");
    expect((await admin("PUT", "/api/v1/admin/tenants/globex/plugins/labeler", { enabled: false })).status).toBe(201);
    expect(await chat("globex", "hi")).toBe("hi");
    const listed = (await admin("GET", "/api/v1/admin/plugins")).body.data.find((p: { name: string }) => p.name === "labeler");
    expect(listed.enabled).toEqual({ default: false, global: true, tenants: [{ tenant: "acme", enabled: true }, { tenant: "globex", enabled: false }] });
    // History comes free: each change is a config event.
    const history = (await gw.events("config")).filter((e) => String(e.payload.id).endsWith("labeler")).map((e) => `${e.type} ${e.payload.id}`);
    expect(history).toEqual(["plugin.created acme/labeler", "plugin.created labeler", "plugin.created globex/labeler"]);
  });

  test("settings are validated against the plugin's schema: 400 invalid_config with param, nothing appended", async () => {
    const before = (await gw.events("config")).length;
    const bad = await admin("PUT", "/api/v1/admin/tenants/acme/plugins/labeler", { settings: { label: "far too long a label" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: "invalid_config", param: "settings.label" });
    const unknownField = await admin("PUT", "/api/v1/admin/plugins/labeler", { settings: { colour: "red" } });
    expect(unknownField.body.error).toMatchObject({ code: "invalid_config", param: "settings.colour" });
    expect((await admin("PUT", "/api/v1/admin/tenants/acme/plugins/ghost", { enabled: true })).status).toBe(404);
    expect((await admin("PUT", "/api/v1/admin/tenants/acme/plugins/labeler", { order: 3 })).status).toBe(400);
    expect((await gw.events("config")).length).toBe(before);
    expect(await chat("acme", "hi")).toBe("hi [label:acme]");
  });

  test("PUT replaces the scope: an update is an event with the changes", async () => {
    const res = await admin("PUT", "/api/v1/admin/tenants/acme/plugins/labeler", { enabled: true, settings: { label: "acme2" } });
    expect(res).toMatchObject({ status: 200, body: { version: 2, settings: { label: "acme2" } } });
    expect(await chat("acme", "hi")).toBe("hi [label:acme2]");
  });
});

describe("single-file plugins", () => {
  test("are on by default and can be switched off for one tenant", async () => {
    expect(await chat("globex", "legacy")).toBe("legacy [legacy]");
    expect((await admin("PUT", "/api/v1/admin/tenants/globex/plugins/legacy-tag", { enabled: false })).status).toBe(201);
    expect(await chat("globex", "legacy")).toBe("legacy");
    expect(await chat("acme", "legacy")).toBe("legacy [legacy] [label:acme2]");
  });
});

describe("ordering", () => {
  test("before/after hints win over load order; the configured order moves a plugin", async () => {
    expect(await chat("acme", "order")).toBe("order second first [label:acme2] third");
    expect((await admin("PUT", "/api/v1/admin/plugins/third", { order: -10 })).status).toBe(201);
    expect(await chat("acme", "order")).toBe("order third second first [label:acme2]");
    const names = (await admin("GET", "/api/v1/admin/plugins")).body.data.map((p: { name: string }) => p.name);
    expect(names.slice(0, 4)).toEqual(["third", "second", "first", "labeler"]);
  });
});

describe("what a plugin reaches", () => {
  test("a worker plugin sees no environment (provider keys), its store is per tenant, its ctx is the documented view", async () => {
    const a1 = await chat("acme", "snoop");
    expect(a1).toContain("[env:none]");
    expect(a1).toContain("[kv:none]");
    expect(a1).toContain("[keys:config,costUsd,emit,endpoint,kv,log,operation,plugin,request,requestId,service,settings,span,stream,target,taskType,tenant,user]");
    expect(await chat("acme", "snoop")).toContain("[kv:acme]");
    expect(await chat("globex", "snoop")).toContain("[kv:none]"); // another tenant's store is another store
    // Stored under the plugin's and the tenant's prefix only.
    expect(await gw.store.get("plugin:snoop:acme:last-tenant")).toBe("acme");
  });
});
