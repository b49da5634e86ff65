/**
 * Admins signing in with an OIDC ID token (issue 28, optional part): an admin identity bound to
 * a JWT issuer's subject is recognised from a verified ID token, with its role and permissions;
 * a wrong subject, an expired token or a revoked identity is refused and audited.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { adminCall, OWNER_KEY } from "./helpers.ts";

let gw: TestGateway;
let pair: Awaited<ReturnType<typeof generateKeyPair>>;
const ISS = "https://login.example.test";
const idToken = (sub: string, exp = Math.floor(Date.now() / 1000) + 300) =>
  new SignJWT({ sub, email: `${sub}@example.com` }).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer(ISS).setAudience("dashboard-client").setIssuedAt().setExpirationTime(exp).sign(pair.privateKey);
let adminId = "";

beforeAll(async () => {
  pair = await generateKeyPair("ES256", { extractable: true });
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: OWNER_KEY });
  const owner = adminCall(gw.url, OWNER_KEY);
  expect((await owner("POST", "/api/v1/admin/tenants", { id: "acme", name: "Acme" })).status).toBe(201);
  const iss = await owner("POST", "/api/v1/admin/jwt-issuers", { id: "sso", issuer: ISS, audience: ["dashboard-client"], public_keys: [{ ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256" }], use: ["admin"] });
  expect(iss.status).toBe(201);
  const created = await owner("POST", "/api/v1/admin/admins", { name: "tara@example.com", role: "tenant_admin", tenant: "acme", oidc: { issuer: "sso", subject: "u-tara" } });
  expect(created.status).toBe(201);
  expect(created.body.key).toBeUndefined(); // no admin key for an ID-token identity
  adminId = created.body.id;
});
afterAll(() => gw?.dispose());

describe("OIDC ID-token sign-in for admins", () => {
  test("a valid ID token of the bound subject is that identity: role, tenant, and only what the role allows", async () => {
    const as = adminCall(gw.url, await idToken("u-tara"), { "x-request-id": "req-tara" });
    const me = await as("GET", "/api/v1/admin/whoami");
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: adminId, name: "tara@example.com", role: "tenant_admin", tenant: "acme", credential: "oidc:sso:u-tara" });
    const key = await as("POST", "/api/v1/admin/keys", { tenant_id: "acme", name: "from-sso" });
    expect(key.status).toBe(201);
    expect(key.body.updated_by).toBe("tara@example.com");
    expect((await as("GET", "/api/v1/routes")).status).toBe(403);
    const trail = await adminCall(gw.url, OWNER_KEY)("GET", `/api/v1/admin/audit?actor=${adminId}&entity=key`);
    expect(trail.body.data[0].actor).toMatchObject({ credential: "oidc:sso:u-tara", request_id: "req-tara", ip: "127.0.0.1" });
  });

  test("another subject, an expired token or a token of no configured issuer: 401 invalid_admin_token, audited", async () => {
    for (const token of [await idToken("u-mallory"), await idToken("u-tara", Math.floor(Date.now() / 1000) - 600)]) {
      const r = await adminCall(gw.url, token)("GET", "/api/v1/admin/whoami");
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe("invalid_admin_token");
    }
    const failed = (await gw.events("config")).filter((e) => e.type === "audit.sign_in_failed");
    expect(failed.map((e) => e.payload.code)).toEqual(["invalid_admin_token", "invalid_admin_token"]);
    expect(JSON.stringify(failed)).not.toContain("eyJ");
  });

  test("a revoked identity's ID token is refused", async () => {
    const token = await idToken("u-tara");
    expect((await adminCall(gw.url, token)("GET", "/api/v1/admin/whoami")).status).toBe(200);
    expect((await adminCall(gw.url, OWNER_KEY)("DELETE", `/api/v1/admin/admins/${adminId}`)).status).toBe(200);
    const r = await adminCall(gw.url, token)("GET", "/api/v1/admin/whoami");
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe("revoked_admin_key");
  });

  test("an admin-only issuer's tokens do not call models; a service-only issuer does not sign admins in", async () => {
    const chat = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${await idToken("u-tara")}`, "content-type": "application/json" }, body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "hi" }] }) });
    expect(chat.status).toBe(401);
    expect(((await chat.json()) as { error: { code: string } }).error.code).toBe("unknown_token_issuer");
    const owner = adminCall(gw.url, OWNER_KEY);
    expect((await owner("POST", "/api/v1/admin/jwt-issuers", { id: "svc", issuer: "https://svc.example.test", audience: "x", jwks_url: "https://svc.example.test/jwks", tenant: "acme" })).status).toBe(201);
    const r = await owner("POST", "/api/v1/admin/admins", { name: "w", role: "analyst", oidc: { issuer: "svc", subject: "s" } });
    expect(r.status).toBe(400);
    expect(r.body.error.param).toBe("oidc.issuer");
  });

  test("an oidc identity needs a known issuer; one subject binds one live identity", async () => {
    const owner = adminCall(gw.url, OWNER_KEY);
    expect((await owner("POST", "/api/v1/admin/admins", { name: "x", role: "analyst", oidc: { issuer: "nope", subject: "s" } })).body.error.code).toBe("unknown_issuer");
    expect((await owner("POST", "/api/v1/admin/admins", { name: "y", role: "analyst", oidc: { issuer: "sso", subject: "u-y" } })).status).toBe(201);
    expect((await owner("POST", "/api/v1/admin/admins", { name: "z", role: "analyst", oidc: { issuer: "sso", subject: "u-y" } })).status).toBe(409);
  });
});
