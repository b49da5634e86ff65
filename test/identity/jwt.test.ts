/**
 * JWT service authentication end to end, with keys generated here and a local JWKS server:
 * valid tokens (RS256 via JWKS, ES256, EdDSA static keys) act as keys of their mapped tenant;
 * expired / not yet valid / wrong audience / unknown issuer are refused; an unknown `kid` is
 * picked up from a rotated JWKS, with the refresh rate-limited; `alg: none` and HS256 signed with
 * the public key are refused; the claims map into limits and into analytics (tenant, service,
 * customer).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from "jose";
import { post, startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";
import { adminCall, OWNER_KEY } from "./helpers.ts";

type Key = Awaited<ReturnType<typeof generateKeyPair>>;
let gw: TestGateway;
let jwksServer: ReturnType<typeof Bun.serve>;
let jwks: { keys: JWK[] } = { keys: [] };
let jwksHits = 0;
const keys: Record<string, { pair: Key; alg: string }> = {};
const ISS = "https://idp.example.test/";
const TENANT_CLAIM = "https://tollgate.dev/tenant";
const REFRESH_S = 2;

async function key(kid: string, alg: "RS256" | "ES256" | "EdDSA") {
  const pair = await generateKeyPair(alg, { extractable: true });
  keys[kid] = { pair, alg };
  return { ...(await exportJWK(pair.publicKey)), kid, alg, use: "sig" } as JWK;
}

function sign(kid: string, claims: Record<string, unknown> = {}, opts: { iss?: string; aud?: string; exp?: number; nbf?: number } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const { pair, alg } = keys[kid]!;
  return new SignJWT({ [TENANT_CLAIM]: "acme", azp: "billing", sub: "cust-42", ...claims })
    .setProtectedHeader({ alg, kid, typ: "JWT" })
    .setIssuer(opts.iss ?? ISS)
    .setAudience(opts.aud ?? "tollgate")
    .setIssuedAt(now)
    .setExpirationTime(opts.exp ?? now + 300)
    .setNotBefore(opts.nbf ?? now - 5)
    .sign(pair.privateKey);
}

const chat = (token: string, model = "echo") => post(`${gw.url}/v1/chat/completions`, { model, messages: [{ role: "user", content: "hello" }] }, { authorization: `Bearer ${token}` });
async function expectRefused(token: string, status: number, code: string) {
  const res = await chat(token);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  return body;
}
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");

beforeAll(async () => {
  jwks = { keys: [await key("rsa-1", "RS256"), await key("ec-1", "ES256")] };
  jwksServer = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: () => {
      jwksHits++;
      return Response.json(jwks);
    },
  });
  const staticKey = await key("ed-1", "EdDSA");
  await key("rsa-2", "RS256"); // not published yet: the rotation
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: OWNER_KEY, TOLLGATE_ANALYTICS: "on" });
  const owner = adminCall(gw.url, OWNER_KEY);
  expect((await owner("POST", "/api/v1/admin/tenants", { id: "acme", name: "Acme" })).status).toBe(201);
  const idp = await owner("POST", "/api/v1/admin/jwt-issuers", {
    id: "idp",
    issuer: ISS,
    audience: "tollgate",
    jwks_url: `http://127.0.0.1:${jwksServer.port}/.well-known/jwks.json`,
    jwks_refresh_seconds: REFRESH_S,
    claims: { tenant: TENANT_CLAIM, service: "azp", user_id: "sub", models: "tollgate_models", rpm_limit: "tollgate_rpm", budget_scope: "azp" },
  });
  expect(idp.status).toBe(201);
  const st = await owner("POST", "/api/v1/admin/jwt-issuers", { id: "static", issuer: "https://static.example.test", audience: ["other", "tollgate"], public_keys: [staticKey], tenant: "acme", claims: { service: "client_id" } });
  expect(st.status).toBe(201);
});
afterAll(async () => {
  await gw?.dispose();
  jwksServer?.stop(true);
});

describe("issuers as config entities", () => {
  test("invalid issuers are refused: no key source, private key material, HMAC keys, alg outside RS256/ES256/EdDSA", async () => {
    const owner = adminCall(gw.url, OWNER_KEY);
    const base = { id: "bad", issuer: "https://x", audience: "a", tenant: "acme" };
    expect((await owner("POST", "/api/v1/admin/jwt-issuers", base)).body.error.param).toBe("jwks_url");
    const priv = await exportJWK(keys["ed-1"]!.pair.privateKey);
    expect((await owner("POST", "/api/v1/admin/jwt-issuers", { ...base, public_keys: [priv] })).body.error.message).toContain("private or symmetric");
    expect((await owner("POST", "/api/v1/admin/jwt-issuers", { ...base, public_keys: [{ kty: "oct", k: "c2VjcmV0" }] })).status).toBe(400);
    expect((await owner("POST", "/api/v1/admin/jwt-issuers", { ...base, jwks_url: "http://x", algorithms: ["HS256"] })).status).toBe(400);
    const hist = await owner("GET", "/api/v1/admin/config/history?entity=jwt_issuer");
    expect(hist.body.data.map((h: { id: string }) => h.id)).toEqual(["idp", "static"]);
  });
});

describe("JWT service authentication", () => {
  test("a valid RS256 token (JWKS) is a key of the mapped tenant: service, customer and scope from its claims", async () => {
    const res = await chat(await sign("rsa-1"));
    expect(res.status).toBe(200);
    const id = res.headers.get("x-request-id");
    const done = await waitFor(async () => (await gw.events()).find((e) => e.requestId === id && e.type === "request.completed"), 5000, "request.completed");
    expect(done.tenant).toBe("acme");
    expect(done.payload).toMatchObject({ service: "billing", user: "cust-42", keyId: "jwt:idp:billing" });
  });

  test("ES256 via JWKS and EdDSA via static public keys (audience list) are accepted", async () => {
    expect((await chat(await sign("ec-1"))).status).toBe(200);
    const ed = await sign("ed-1", { client_id: "reports" }, { iss: "https://static.example.test" });
    expect((await chat(ed)).status).toBe(200);
  });

  test("expired (beyond the skew), not yet valid, wrong audience, unknown issuer: 401 with a code", async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(await sign("rsa-1", {}, { exp: now - 120 }), 401, "expired_token");
    expect((await chat(await sign("rsa-1", {}, { exp: now - 10 }))).status).toBe(200); // within the 30 s skew
    await expectRefused(await sign("rsa-1", {}, { nbf: now + 120 }), 401, "token_not_yet_valid");
    await expectRefused(await sign("rsa-1", {}, { aud: "someone-else" }), 401, "invalid_token_audience");
    await expectRefused(await sign("rsa-1", {}, { iss: "https://evil.example.test/" }), 401, "unknown_token_issuer");
    const noTenant = await expectRefused(await sign("rsa-1", { [TENANT_CLAIM]: "ghost" }), 403, "tenant_disabled");
    expect(noTenant.error.message).not.toContain("eyJ");
    const denied = (await gw.events()).filter((e) => e.type === "auth.denied").map((e) => e.payload.code);
    expect(denied).toEqual(expect.arrayContaining(["expired_token", "token_not_yet_valid", "invalid_token_audience", "unknown_token_issuer"]));
    expect(JSON.stringify(await gw.events())).not.toContain("eyJ"); // no token in any event
  });

  test("alg none and HS256 signed with the issuer's public key are refused", async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: ISS, aud: "tollgate", exp: now + 300, [TENANT_CLAIM]: "acme", sub: "x" };
    const none = `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`;
    await expectRefused(none, 401, "token_algorithm_refused");
    // The classic confusion: HMAC with the RSA public key (PEM bytes) as the secret, naming the RSA kid.
    const pem = await exportSPKI(keys["rsa-1"]!.pair.publicKey);
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: "rsa-1" }).sign(new TextEncoder().encode(pem));
    await expectRefused(hs, 401, "token_algorithm_refused");
    // A tampered payload under a valid RS256 signature fails the signature check.
    const good = (await sign("rsa-1")).split(".");
    await expectRefused(`${good[0]}.${b64({ ...claims, [TENANT_CLAIM]: "acme", admin: true })}.${good[2]}`, 401, "invalid_token");
  });

  test("an unknown kid is picked up from the rotated JWKS; refreshes are rate-limited", async () => {
    await Bun.sleep(REFRESH_S * 1000 + 100); // past the cooldown of earlier fetches
    const before = jwksHits;
    const rotated = await sign("rsa-2");
    await expectRefused(rotated, 401, "unknown_signing_key"); // refetched once: still not published
    expect(jwksHits).toBe(before + 1);
    jwks = { keys: [...jwks.keys, { ...(await exportJWK(keys["rsa-2"]!.pair.publicKey)), kid: "rsa-2", alg: "RS256" }] }; // the IdP rotates
    for (let i = 0; i < 5; i++) await expectRefused(await sign("rsa-2", { n: i }), 401, "unknown_signing_key"); // within the cooldown: no refetch
    expect(jwksHits).toBe(before + 1);
    await Bun.sleep(REFRESH_S * 1000 + 100);
    expect((await chat(rotated)).status).toBe(200);
    expect(jwksHits).toBe(before + 2);
  });

  test("an issuer whose JWKS cannot be fetched: 503 token_keys_unavailable (not the caller's fault), never a 200", async () => {
    const owner = adminCall(gw.url, OWNER_KEY);
    const down = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("oops", { status: 500 }) });
    try {
      expect((await owner("POST", "/api/v1/admin/jwt-issuers", { id: "broken", issuer: "https://broken.example.test/", audience: "tollgate", tenant: "acme", jwks_url: `http://127.0.0.1:${down.port}/jwks` })).status).toBe(201);
      const res = await chat(await sign("rsa-1", {}, { iss: "https://broken.example.test/" }));
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("5");
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("token_keys_unavailable");
    } finally {
      down.stop(true);
      await owner("DELETE", "/api/v1/admin/jwt-issuers/broken");
    }
    // Nobody listening at all.
    expect((await owner("POST", "/api/v1/admin/jwt-issuers", { id: "gone", issuer: "https://gone.example.test/", audience: "tollgate", tenant: "acme", jwks_url: `http://127.0.0.1:${down.port}/jwks` })).status).toBe(201);
    await expectRefused(await sign("rsa-1", {}, { iss: "https://gone.example.test/" }), 503, "token_keys_unavailable");
    // Deleting an issuer refuses its tokens from then on.
    await owner("DELETE", "/api/v1/admin/jwt-issuers/gone");
    await expectRefused(await sign("rsa-1", {}, { iss: "https://gone.example.test/" }), 401, "unknown_token_issuer");
  });

  test("claims map into limits: allowed models and the per-scope rpm limit", async () => {
    const limited = await sign("rsa-1", { azp: "batch", tollgate_models: "echo other-*", tollgate_rpm: 2 });
    expect((await chat(limited)).status).toBe(200);
    await expectRefused(await sign("rsa-1", { azp: "batch", tollgate_models: "gpt-4o" }), 403, "model_not_allowed");
    expect((await chat(limited)).status).toBe(200);
    const third = await chat(await sign("rsa-1", { azp: "batch", tollgate_rpm: 2, jti: "another-token-same-scope" }));
    expect(third.status).toBe(429);
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe("rate_limit_exceeded");
  });

  test("analytics: the requests appear under the mapped tenant, service and customer", async () => {
    await waitFor(async () => gw.analytics?.status().state === "ready", 30_000, "analytics ready");
    const owner = adminCall(gw.url, OWNER_KEY);
    const rows = await waitFor(async () => {
      const r = await owner("GET", "/api/v1/usage/by-customer?tenant=acme&days=1");
      const hit = (r.body.data ?? []).find((x: { user_id: string; requests: number }) => x.user_id === "cust-42" && x.requests >= 3);
      return hit ? r.body.data : undefined;
    }, 20_000, "usage projected");
    expect(rows.length).toBeGreaterThan(0);
    const services = await waitFor(async () => {
      const names = ((await owner("GET", "/api/v1/usage/by-service?tenant=acme&days=1")).body.data ?? []).map((s: { service: string }) => s.service);
      return names.includes("batch") ? names : undefined;
    }, 20_000, "the batch service projected");
    expect(services).toEqual(expect.arrayContaining(["billing", "batch", "reports"]));
  });
});
