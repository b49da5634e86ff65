/**
 * auth: who is calling. Finds the virtual key (`tg-…`) by its SHA-256 hash in the config
 * snapshot (one Map lookup: no secret is ever compared character by character), checks it is
 * live and allowed the requested model, and sets `ctx.principal` plus, for the limits plugin,
 * `ctx.state["auth.key"]` (KeyRecord) and `ctx.state["auth.tenant"]` (TenantRecord).
 *
 * First-run mode: while no key was ever created and the gateway listens on a loopback address,
 * requests run as tenant `default` without a key. Otherwise every request needs a valid key.
 *
 * The HTTP layer hands the raw credential over in `ctx.state["auth.credential"]`
 * (see `credentialFrom`): `Authorization: Bearer …` (OpenAI SDKs), `x-api-key` (Anthropic SDKs) or
 * `X-Service-Key` (services built for the generate API) — the same virtual key in each.
 *
 *   no credential ───────────────► 401 missing_api_key
 *   not `tg-` + 32 base62 ───────► 401 malformed_api_key
 *   hash unknown ────────────────► 401 invalid_api_key
 *   revoked ─────────────────────► 401 revoked_api_key
 *   expired / rotated-out ───────► 401 expired_api_key
 *   tenant disabled or gone ─────► 403 tenant_disabled
 *   model not in the key's list ─► 403 model_not_allowed
 */
import type { KeyRecord, TenancySnapshot, TenantRecord } from "../config/tenancy.ts";
import { hashKey, isWellFormedKey, keyPrefix } from "../config/keys.ts";
import type { Ctx } from "../pipeline/context.ts";
import { GatewayError } from "../pipeline/errors.ts";
import { definePlugin } from "../pipeline/plugin.ts";
import { type JwtDenied, type JwtResult, type JwtVerifier, looksLikeJwt } from "../identity/jwt/verifier.ts";

export const DEFAULT_TENANT = "default";

export interface AuthOptions {
  /** Whether the gateway listens on a loopback address (first-run mode possible). */
  loopback: boolean;
  /** Clock in epoch ms (tests). */
  now?: () => number;
  /** JWT service tokens (issue 28, src/identity/jwt/): absent = virtual keys only. */
  jwt?: JwtVerifier;
}

/**
 * The credential of an HTTP request: a `tg-` key from `Authorization: Bearer`, `x-api-key` or
 * `X-Service-Key` (the first that holds one), else whatever the first of them holds.
 */
export function credentialFrom(headers: Headers): string | undefined {
  const bearer = /^Bearer\s+(.+)$/i.exec(headers.get("authorization") ?? "")?.[1]?.trim() || undefined;
  const apiKey = headers.get("x-api-key")?.trim() || undefined;
  const serviceKey = headers.get("x-service-key")?.trim() || undefined;
  for (const k of [bearer, apiKey, serviceKey]) if (k?.startsWith("tg-")) return k;
  return bearer ?? apiKey ?? serviceKey;
}

/** Whether `model` is allowed by a key's list (absent = all; `prefix*` matches a prefix). */
export function modelAllowed(models: readonly string[] | undefined, model: string): boolean {
  if (!models) return true;
  return models.some((m) => (m.endsWith("*") ? model.startsWith(m.slice(0, -1)) : m === model));
}

/** The outcome of checking a credential: who it is, or why not (no secret in either). */
export type AuthDecision =
  | { ok: true; tenantId: string; key?: KeyRecord; tenant?: TenantRecord }
  | { ok: false; status: 401 | 403; code: AuthDeniedCode; message: string; prefix?: string; key?: KeyRecord; param?: string };
export type AuthDeniedCode = "missing_api_key" | "malformed_api_key" | "invalid_api_key" | "revoked_api_key" | "expired_api_key" | "tenant_disabled" | "model_not_allowed" | JwtDenied;

/**
 * Pure: check a credential against the tenancy snapshot at time `now` (epoch ms). `model` is
 * checked against the key's allowed models when given. Usable outside the pipeline too
 * (e.g. `GET /api/v1/keys/self`).
 */
export function authenticate(tenancy: TenancySnapshot | undefined, credential: unknown, opts: { loopback: boolean; now: number; model?: string }): AuthDecision {
  if (!tenancy?.anyKeys && opts.loopback) {
    // First-run mode: no key exists yet, loopback only. Any credential sent is ignored.
    const tenant = tenancy?.tenants[DEFAULT_TENANT];
    if (tenant && !tenant.enabled) return { ok: false, status: 403, code: "tenant_disabled", message: `Tenant \`${DEFAULT_TENANT}\` is disabled` };
    return { ok: true, tenantId: DEFAULT_TENANT, ...(tenant ? { tenant } : {}) };
  }
  if (typeof credential !== "string" || credential === "") {
    // On loopback a keyless client worked until the first virtual key was created: say why it no longer does.
    const why = opts.loopback && tenancy?.anyKeys ? "This gateway now requires a key (a virtual key was created): keyless first-run mode has ended. " : "";
    return { ok: false, status: 401, code: "missing_api_key", message: `${why}An API key is required: \`Authorization: Bearer tg-…\`, \`x-api-key: tg-…\` or \`X-Service-Key: tg-…\`` };
  }
  if (!isWellFormedKey(credential)) return { ok: false, status: 401, code: "malformed_api_key", message: "The API key is malformed: a gateway key is `tg-` and 32 letters or digits" };
  const prefix = keyPrefix(credential);
  const key = tenancy?.keys.get(hashKey(credential)); // found by hash: no secret compared
  if (!key) return { ok: false, status: 401, code: "invalid_api_key", message: "Invalid API key", prefix };
  const no = (status: 401 | 403, code: AuthDeniedCode, message: string, param?: string): AuthDecision => ({ ok: false, status, code, message, prefix, key, ...(param ? { param } : {}) });
  if (key.revoked_at) return no(401, "revoked_api_key", "This API key was revoked");
  if (key.grace_until_ms !== undefined && opts.now >= key.grace_until_ms) return no(401, "expired_api_key", "This API key was rotated and its grace period is over");
  if (key.expires_at_ms !== undefined && opts.now >= key.expires_at_ms) return no(401, "expired_api_key", `This API key expired at ${key.expires_at}`);
  const tenant = tenancy?.tenants[key.tenant];
  if (!tenant || !tenant.enabled) return no(403, "tenant_disabled", `Tenant \`${key.tenant}\` is disabled`);
  if (opts.model !== undefined && !modelAllowed(key.models, opts.model)) return no(403, "model_not_allowed", `This API key may not use the model \`${opts.model}\``, "model");
  if (opts.model !== undefined && !modelAllowed(tenant.models, opts.model)) return no(403, "model_not_allowed", `This tenant may not use the model \`${opts.model}\``, "model");
  return { ok: true, tenantId: key.tenant, key, tenant };
}

/**
 * @example
 * new Pipeline([authPlugin({ loopback: isLoopback(settings.host) }), routingPlugin(router), …])
 */
export function authPlugin(opts: AuthOptions) {
  const now = opts.now ?? Date.now;
  return definePlugin({
    name: "auth",
    version: "1.0.0",
    enforce: "pre",
    phases: {
      authenticate(ctx) {
        const credential = ctx.state["auth.credential"];
        if (opts.jwt && looksLikeJwt(credential)) {
          // A verified token is a key of its tenant: the same checks and state as a virtual key.
          const hit = opts.jwt.cached(credential);
          return hit ? admitToken(ctx, hit) : opts.jwt.verify(credential).then((r) => admitToken(ctx, r));
        }
        const decision = authenticate(ctx.config.tenancy, ctx.state["auth.credential"], { loopback: opts.loopback, now: now(), model: ctx.request.model });
        if (!decision.ok) throw deny(ctx, decision);
        const { key, tenant } = decision;
        // A key bound to a service or user wins over what the client labels.
        if (key?.service) ctx.meta.service = key.service;
        if (key?.user) ctx.meta.user = key.user;
        const { service, user } = ctx.meta;
        ctx.principal = { tenant: decision.tenantId, ...(key ? { keyId: key.id, keyPrefix: keyPrefix(ctx.state["auth.credential"] as string) } : {}), ...(service ? { service } : {}), ...(user ? { user } : {}) };
        if (key) ctx.state["auth.key"] = key;
        if (tenant) ctx.state["auth.tenant"] = tenant;
      },
    },
  });
}

/** A JWT verification result → the principal (like a key: tenant enabled, model allowed), or auth.denied. */
function admitToken(ctx: Ctx, r: JwtResult): void {
  if (!r.ok && r.code === "token_keys_unavailable") {
    ctx.emit({ type: "auth.denied", payload: { code: r.code, status: 503, prefix: null, keyId: null, keyTenant: null, model: ctx.request.model } });
    throw new GatewayError({ status: 503, code: r.code, message: r.message, headers: { "retry-after": "5" } });
  }
  if (!r.ok) throw deny(ctx, { ok: false, status: 401, code: r.code as AuthDeniedCode, message: r.message });
  const key = r.key;
  const tenant = ctx.config.tenancy?.tenants[key.tenant];
  if (!tenant || !tenant.enabled) throw deny(ctx, { ok: false, status: 403, code: "tenant_disabled", message: `Tenant \`${key.tenant}\` is disabled or does not exist`, key });
  if (!modelAllowed(key.models, ctx.request.model)) throw deny(ctx, { ok: false, status: 403, code: "model_not_allowed", message: `This token may not use the model \`${ctx.request.model}\``, key, param: "model" });
  if (key.service) ctx.meta.service = key.service;
  if (key.user) ctx.meta.user = key.user;
  const { service, user } = ctx.meta;
  ctx.principal = { tenant: key.tenant, keyId: key.id, keyPrefix: key.prefix, ...(service ? { service } : {}), ...(user ? { user } : {}) };
  ctx.state["auth.key"] = key;
  ctx.state["auth.tenant"] = tenant;
  ctx.state["auth.jwt"] = { issuer: r.issuer, subject: r.subject };
}

/** Record `auth.denied` (no secret: the key's prefix and id at most) and build the error. */
function deny(ctx: Ctx, d: Extract<AuthDecision, { ok: false }>): GatewayError {
  const { key, status, code } = d;
  if (status === 403 && key) ctx.principal = { tenant: key.tenant, keyId: key.id }; // authenticated, not permitted: the tenant's
  ctx.emit({
    type: "auth.denied",
    payload: { code, status, prefix: d.prefix ?? null, keyId: key?.id ?? null, keyTenant: key?.tenant ?? null, model: ctx.request.model },
  });
  return new GatewayError({
    status,
    code,
    message: d.message,
    ...(d.param ? { param: d.param } : {}),
    ...(status === 401 ? { headers: { "www-authenticate": 'Bearer realm="tollgate"' } } : {}),
  });
}

export type { KeyRecord, TenantRecord };
