/**
 * What JWT service authentication adds to the authenticate phase, in-process: the auth plugin's
 * hook with a virtual key (baseline), with a JWT already verified once (the cached fast path:
 * a service reusing its token), and with a token never seen before (a full jose verification
 * with the issuer's key cached), per algorithm. p50 / p99 per call.
 *
 *   bun run bench/jwt.ts
 */
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { hashKey } from "../src/config/keys.ts";
import type { ConfigSnapshot } from "../src/config/snapshot.ts";
import { JwtVerifier } from "../src/identity/jwt/verifier.ts";
import type { Ctx } from "../src/pipeline/context.ts";
import { initialState } from "../src/projections/config/model.ts";
import { authPlugin } from "../src/plugins/auth.ts";

const N = 20_000;
const FRESH = 3_000;
const tenant = { id: "acme", name: "Acme", enabled: true };
const vkey = "tg-0123456789abcdefghijABCDEFGHIJ01";
const tenancy = { keys: new Map([[hashKey(vkey), { id: "key_1", tenant: "acme", prefix: "tg-01234" }]]), tenants: { acme: tenant }, anyKeys: true };
const config = { version: 1, providers: [], models: [], prices: {}, routes: { global: {}, tenant: {}, tenantService: {} }, breaker: {}, tenancy } as unknown as ConfigSnapshot;

const state = initialState();
const algs = ["RS256", "ES256", "EdDSA"] as const;
const pairs: Record<string, Awaited<ReturnType<typeof generateKeyPair>>> = {};
const keys = [];
for (const alg of algs) {
  pairs[alg] = await generateKeyPair(alg, { extractable: true });
  keys.push({ ...(await exportJWK(pairs[alg]!.publicKey)), kid: alg, alg });
}
state.entities.jwt_issuer.bench = { kind: "jwt_issuer", id: "bench", version: 1, updatedAt: "", updatedBy: "", fields: { issuer: "https://idp", audience: "tollgate", public_keys: keys, tenant: "acme", claims: { service: "azp" }, enabled: true } };
const verifier = new JwtVerifier(() => state);
const plugin = authPlugin({ loopback: false, jwt: verifier });
const hook = plugin.phases.authenticate!;

const ctx = (credential: string) => ({ config, state: { "auth.credential": credential }, request: { model: "echo", messages: [] }, meta: {}, principal: { tenant: "?" }, emit: () => {} }) as unknown as Ctx;
const sign = (alg: string, i: number) => new SignJWT({ azp: "svc", sub: `s${i}` }).setProtectedHeader({ alg, kid: alg }).setIssuer("https://idp").setAudience("tollgate").setIssuedAt().setExpirationTime("1h").sign(pairs[alg]!.privateKey);

async function measure(label: string, creds: string[], n: number, warm: string[] = creds): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < Math.min(2_000, n); i++) await hook(ctx(warm[i % warm.length]!)); // warm-up (JIT, and the issuer's keys)
  for (let i = 0; i < n; i++) {
    const c = ctx(creds[i % creds.length]!);
    const t0 = performance.now();
    await hook(c);
    times.push(performance.now() - t0);
    if (c.principal.tenant !== "acme") throw new Error(`${label}: not authenticated`);
  }
  times.sort((a, b) => a - b);
  const p50 = times[Math.floor(n * 0.5)]! * 1000;
  const p99 = times[Math.floor(n * 0.99)]! * 1000;
  console.log(`| ${label} | ${p50.toFixed(1)} µs | ${p99.toFixed(1)} µs |`);
  return p50;
}

console.log("| authenticate phase | p50 | p99 |\n| --- | --- | --- |");
const base = await measure("virtual key (baseline)", [vkey], N);
for (const alg of algs) {
  const token = await sign(alg, 0);
  const cached = await measure(`JWT ${alg}, token seen before (cached)`, [token], N);
  console.log(`|   added over the virtual key | ${(cached - base).toFixed(1)} µs | |`);
}
for (const alg of algs) {
  const fresh = await Promise.all(Array.from({ length: FRESH + 2_000 }, (_, i) => sign(alg, i + 1)));
  const verified = await measure(`JWT ${alg}, new token (full verification, key cached)`, fresh.slice(2_000), FRESH, fresh.slice(0, 2_000));
  console.log(`|   added over the virtual key | ${(verified - base).toFixed(1)} µs | |`);
}
