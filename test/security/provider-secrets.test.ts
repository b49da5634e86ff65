/**
 * Issue 22, finding 5: the admin API cannot read out an environment secret through a provider.
 * `api_key_env` names only prefixed or allow-listed variables; a `base_url` change needs the key
 * again; a stored key is sealed bound to its `base_url` (AES-GCM additional data).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decryptSecret, deriveKey, encryptSecret, providerKeyAad, SecretError } from "../../src/config/secrets.ts";
import { adminHeaders, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const MASTER = "a master key for the provider secret tests";
let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_MASTER_KEY: MASTER, TOLLGATE_PROVIDER_ENV_ALLOW: "VLLM_KEY" });
});
afterAll(() => gw?.dispose());

const call = async (method: string, path: string, body: unknown) => {
  const res = await fetch(`${gw.url}${path}`, { method, headers: adminHeaders(gw.adminKey), body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};

describe("api_key_env: prefix or allow-list only", () => {
  for (const name of ["TOLLGATE_MASTER_KEY", "CLICKHOUSE_PASSWORD", "AWS_SECRET_ACCESS_KEY", "TOLLGATE_ADMIN_KEY", "PATH"]) {
    test(`${name} → 400 env_not_allowed, nothing stored`, async () => {
      const r = await call("POST", "/api/v1/providers", { id: `p-${name.toLowerCase().replace(/_/g, "-")}`, kind: "openai", base_url: "https://attacker.example/v1", api_key_env: name, models: ["m"] });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: "env_not_allowed", param: "api_key_env" });
      expect(Object.keys(gw.config.state.entities.provider)).not.toContain(`p-${name.toLowerCase().replace(/_/g, "-")}`);
    });
  }

  test("a PATCH cannot switch an existing provider to a forbidden variable either", async () => {
    expect((await call("POST", "/api/v1/providers", { id: "ok-env", kind: "openai", base_url: "https://api.example/v1", api_key_env: "TOLLGATE_PROVIDER_OK", models: ["m"] })).status).toBe(201);
    const r = await call("PATCH", "/api/v1/providers/ok-env", { api_key_env: "TOLLGATE_MASTER_KEY" });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("env_not_allowed");
  });

  test("the prefix and the allow-list pass", async () => {
    expect((await call("POST", "/api/v1/providers", { id: "allowed-env", kind: "openai", base_url: "https://vllm.internal/v1", api_key_env: "VLLM_KEY", models: ["m"] })).status).toBe(201);
  });
});

describe("base_url: a stored key never follows the provider to another host", () => {
  test("changing base_url needs the key again; with it, the key is sealed to the new URL", async () => {
    const created = await call("POST", "/api/v1/providers", { id: "sealed", kind: "openai", base_url: "https://api.openai.example/v1", api_key: "sk-live-0123456789abcdef", models: ["m"] });
    expect(created.status).toBe(201);
    const refused = await call("PATCH", "/api/v1/providers/sealed", { base_url: "https://attacker.example/v1" });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: "api_key_required", param: "api_key" });
    expect(gw.config.state.entities.provider.sealed!.fields.base_url).toBe("https://api.openai.example/v1");
    const env = await call("PATCH", "/api/v1/providers/ok-env", { base_url: "https://attacker.example/v1" });
    expect(env.body.error?.code).toBe("api_key_required"); // a key variable counts as a key too

    const enc = gw.config.state.entities.provider.sealed!.fields.api_key_enc as string;
    expect(enc.startsWith("v2:")).toBe(true);
    const key = deriveKey(MASTER);
    expect(decryptSecret(enc, key, providerKeyAad("https://api.openai.example/v1"))).toBe("sk-live-0123456789abcdef");
    expect(() => decryptSecret(enc, key, providerKeyAad("https://attacker.example/v1"))).toThrow(SecretError);

    const moved = await call("PATCH", "/api/v1/providers/sealed", { base_url: "https://eu.api.openai.example/v1", api_key: "sk-live-new-key-9999" });
    expect(moved.status).toBe(200);
    const enc2 = gw.config.state.entities.provider.sealed!.fields.api_key_enc as string;
    expect(decryptSecret(enc2, key, providerKeyAad("https://eu.api.openai.example/v1"))).toBe("sk-live-new-key-9999");
    expect(gw.snapshot.providers.find((p) => p.id === "sealed")).toBeDefined();
  });

  test("moving to another base_url with a key variable drops the key sealed to the old URL", async () => {
    expect((await call("POST", "/api/v1/providers", { id: "switcher", kind: "openai", base_url: "https://a.example/v1", api_key: "sk-old-0123456789", models: ["m"] })).status).toBe(201);
    const r = await call("PATCH", "/api/v1/providers/switcher", { base_url: "https://b.example/v1", api_key_env: "TOLLGATE_PROVIDER_B" });
    expect(r.status).toBe(200);
    expect(gw.config.state.entities.provider.switcher!.fields.api_key_enc ?? null).toBeNull();
    expect(gw.snapshot.providers.find((p) => p.id === "switcher")).toBeDefined(); // the snapshot still builds
  });

  test("keys sealed before (v1, no additional data) still open", () => {
    const key = deriveKey(MASTER);
    expect(decryptSecret(encryptSecret("sk-old", key), key, providerKeyAad("https://any.example"))).toBe("sk-old");
  });
});

describe("provider headers: sealed and masked like keys (issue 22, finding 10)", () => {
  test("stored sealed (events hold no header value), shown masked, still sent upstream; a base_url change needs them again", async () => {
    const { startFakeOpenAI } = await import("../fakes/openai-upstream.ts");
    const fake = startFakeOpenAI({ apiKey: "sk-fake-upstream-key-0001" });
    try {
      const secretHeader = "Bearer org-secret-token-5678";
      const created = await call("POST", "/api/v1/providers", { id: "with-headers", kind: "openai", base_url: fake.url, api_key: "sk-fake-upstream-key-0001", headers: { "x-org-auth": secretHeader }, models: ["gpt-4o-mini"] });
      expect(created.status).toBe(201);
      expect(created.body.headers).toEqual({ "x-org-auth": "…5678" });
      expect(JSON.stringify(created.body)).not.toContain("org-secret-token");
      const events = JSON.stringify(await gw.events("config"));
      expect(events).not.toContain("org-secret-token");
      const view = await (await fetch(`${gw.url}/api/v1/admin/config`, { headers: adminHeaders(gw.adminKey) })).text();
      expect(view).not.toContain("org-secret-token");
      const history = await (await fetch(`${gw.url}/api/v1/admin/config/history`, { headers: adminHeaders(gw.adminKey) })).text();
      expect(history).not.toContain("org-secret-token");

      const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "with-headers/gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }) });
      expect(res.status).toBe(200);
      expect(fake.requests.at(-1)!.headers["x-org-auth"]).toBe(secretHeader);

      const moved = await call("PATCH", "/api/v1/providers/with-headers", { base_url: "https://attacker.example/v1", api_key: "sk-other" });
      expect(moved.status).toBe(400);
      expect(moved.body.error.code).toBe("headers_required");
    } finally {
      fake.close();
    }
  });
});
