/**
 * The admin check: who is calling (bootstrap key → `owner`; a named admin's `tga-` key → its
 * identity and role), may they use this route (the permission table), and the audit facts of a
 * refusal. Failed sign-ins are rate-limited per source IP.
 *
 *   no credential ────────────────────► 401 missing_admin_key      (not a sign-in attempt: neither)
 *   unknown / wrong key ──────────────► 401 invalid_admin_key      (audited, counted)
 *   revoked admin key ────────────────► 401 revoked_admin_key      (audited, counted)
 *   ID token not valid / no identity ─► 401 invalid_admin_token    (audited, counted)
 *   too many failures from the source ► 429 too_many_failed_attempts
 *   route not in the table ───────────► 403 permission_undeclared  (fail closed)
 *   role lacks the permission ────────► 403 permission_denied      (audited)
 */
import { makeEvent } from "../events/envelope.ts";
import { uuidv7 } from "../events/uuidv7.ts";
import { GatewayError } from "../pipeline/errors.ts";
import type { ConfigState, Entity } from "../projections/config/model.ts";
import { type Actor, type AdminIdentity, actorRecord, bodyOf, sourceIpOf } from "./actor.ts";
import { ADMIN_KEY_PATTERN, hashAdminKey, matchesAdminKey } from "./admin-keys.ts";
import { FailureLimiter } from "./failures.ts";
import { type JwtVerifier, looksLikeJwt } from "./jwt/verifier.ts";
import { allowed, type RouteRule, ruleFor } from "./permissions.ts";

/** What the identity service needs of the config service (the live state, and appending audit facts). */
export interface IdentityConfig {
  readonly state: ConfigState;
  appendAudit?(event: ReturnType<typeof makeEvent>): Promise<void>;
}

export interface IdentityOptions {
  adminKey: string | undefined;
  loopback: boolean;
  config?: IdentityConfig | undefined;
  failures?: FailureLimiter;
  /** Admins signing in with an OIDC ID token of a configured issuer (absent: admin keys only). */
  jwt?: JwtVerifier;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function adminCredential(request: Request): string | undefined {
  return request.headers.get("x-service-key")?.trim() || /^Bearer\s+(.+)$/i.exec(request.headers.get("authorization") ?? "")?.[1]?.trim() || undefined;
}

export class IdentityService {
  readonly failures: FailureLimiter;
  private index: { state: ConfigState; byHash: Map<string, Entity<"admin">> } | undefined;

  constructor(private readonly opts: IdentityOptions) {
    this.failures = opts.failures ?? new FailureLimiter();
  }

  /** Pure-ish: the identity a credential names, or the 401/403 to answer (no audit, no counting). */
  resolve(credential: string | undefined): AdminIdentity | GatewayError {
    if (this.opts.jwt && looksLikeJwt(credential)) return this.resolveIdToken(credential);
    if (credential && ADMIN_KEY_PATTERN.test(credential)) {
      const e = this.admins().get(hashAdminKey(credential));
      if (!e) return unauthorized("invalid_admin_key", "Invalid admin key");
      if (e.fields.revoked_at) return unauthorized("revoked_admin_key", "This admin key was revoked");
      return { id: e.id, name: e.fields.name, role: e.fields.role, ...(e.fields.tenant ? { tenant: e.fields.tenant } : {}), credential: e.fields.prefix! };
    }
    const adminKey = this.opts.adminKey;
    // Never an admin API without a key, loopback or not (issue 22): main.ts always resolves one
    // (TOLLGATE_ADMIN_KEY or the generated <data dir>/admin.key); no key here means disabled.
    if (!adminKey) return new GatewayError({ status: 403, code: "admin_disabled", message: "The admin API is disabled: set TOLLGATE_ADMIN_KEY" });
    if (!credential) return unauthorized("missing_admin_key", "The admin API needs an admin key (Authorization: Bearer … or X-Service-Key)");
    if (!matchesAdminKey(adminKey, credential)) return unauthorized("invalid_admin_key", "Invalid admin key");
    // The bootstrap key: break-glass owner. Its actor name stays `admin` (history written before identities).
    return { id: "bootstrap", name: "admin", role: "owner", credential: "TOLLGATE_ADMIN_KEY" };
  }

  /**
   * An OIDC ID token: verified beforehand by `prepare` (the check itself is synchronous), then
   * matched to the admin identity bound to its issuer and subject.
   */
  private resolveIdToken(token: string): AdminIdentity | GatewayError {
    const v = this.opts.jwt!.cachedToken(token);
    if (!v || !v.uses.includes("admin")) return unauthorized("invalid_admin_token", "The ID token is invalid, expired, or from an issuer that does not sign admins in");
    const e = Object.values(this.opts.config?.state.entities.admin ?? {}).find((a) => a.fields.oidc?.issuer === v.issuer && a.fields.oidc.subject === v.subject);
    if (!e) return unauthorized("invalid_admin_token", "No admin identity signs in with this token's subject");
    if (e.fields.revoked_at) return unauthorized("revoked_admin_key", "This admin identity was revoked");
    return { id: e.id, name: e.fields.name, role: e.fields.role, ...(e.fields.tenant ? { tenant: e.fields.tenant } : {}), credential: `oidc:${v.issuer}:${v.subject}` };
  }

  /**
   * Before the (synchronous) admin check: verify an ID token sent to an admin route, so the
   * check finds it in the verifier's cache. Undefined (nothing to wait for) for anything else.
   */
  prepare(request: Request): Promise<void> | undefined {
    const jwt = this.opts.jwt;
    if (!jwt) return undefined;
    const token = adminCredential(request);
    if (!looksLikeJwt(token) || jwt.cachedToken(token)) return undefined;
    if (!ruleFor(request.method === "HEAD" ? "GET" : request.method, new URL(request.url).pathname)) return undefined;
    return jwt.verifyToken(token).then(
      () => undefined,
      () => undefined,
    );
  }

  /** The admin check of one request: its actor, or a GatewayError (after auditing and counting). */
  authorize(request: Request): Actor {
    const url = new URL(request.url);
    const ip = sourceIpOf(request);
    const source = ip ?? "unknown";
    const given = request.headers.get("x-request-id");
    const requestId = given && REQUEST_ID.test(given) ? given : uuidv7();
    const base = { ip, userAgent: request.headers.get("user-agent")?.slice(0, 256) ?? null, requestId };
    const where = { method: request.method, path: url.pathname };
    const wait = this.failures.blockedFor(source);
    if (wait > 0) throw new GatewayError({ status: 429, code: "too_many_failed_attempts", message: "Too many failed admin sign-ins from this address; retry later", headers: { "retry-after": String(Math.ceil(wait / 1000)) } });
    const who = this.resolve(adminCredential(request));
    if (who instanceof GatewayError) {
      // A wrong or revoked credential is a failed sign-in; no credential at all is not an attempt.
      if (who.status === 401 && who.code !== "missing_admin_key") {
        const crossed = this.failures.fail(source);
        this.audit("audit.sign_in_failed", { ...where, code: who.code, ip, user_agent: base.userAgent, request_id: requestId, ...(crossed ? { rate_limited: true } : {}) });
      }
      throw who;
    }
    const actor: Actor = { ...who, ...base };
    const found = ruleFor(request.method === "HEAD" ? "GET" : request.method, url.pathname);
    if (!found) throw new GatewayError({ status: 403, code: "permission_undeclared", message: `No permission is declared for ${request.method} ${url.pathname}: refused` });
    const tenant = this.routeTenant(found.rule, found.params, url, request, actor);
    if (!allowed(actor, found.rule.permission, tenant)) {
      this.audit("audit.permission_refused", { ...where, permission: found.rule.permission, ...(tenant ? { tenant } : {}), actor: actorRecord(actor) });
      throw new GatewayError({ status: 403, code: "permission_denied", message: `Role \`${actor.role}\`${actor.tenant ? ` (tenant \`${actor.tenant}\`)` : ""} lacks \`${found.rule.permission}\`${tenant ? ` for tenant \`${tenant}\`` : ""}` });
    }
    return actor;
  }

  /** The tenant a request is about, per its rule (undefined: none named). */
  private routeTenant(rule: RouteRule, params: Record<string, string>, url: URL, request: Request, who: AdminIdentity): string | undefined {
    const t = rule.tenant;
    if (!t) return undefined;
    if ("param" in t) return params[t.param];
    if ("query" in t) return url.searchParams.get(t.query) || (t.ownIfMissing ? who.tenant : undefined);
    if ("body" in t) {
      const v = (bodyOf(request) as Record<string, unknown> | undefined)?.[t.body];
      return typeof v === "string" ? v : undefined;
    }
    return this.opts.config?.state.entities.key[params[t.keyParam] ?? ""]?.fields.tenant;
  }

  private admins(): Map<string, Entity<"admin">> {
    const state = this.opts.config?.state;
    if (!state) return new Map();
    if (this.index?.state !== state) {
      const byHash = new Map<string, Entity<"admin">>();
      for (const e of Object.values(state.entities.admin ?? {})) if (e.fields.hash) byHash.set(e.fields.hash, e);
      this.index = { state, byHash };
    }
    return this.index.byHash;
  }

  /** Record an audit fact on the config stream (never blocks or fails the answer). */
  private audit(type: string, payload: Record<string, unknown>): void {
    const append = this.opts.config?.appendAudit;
    if (!append) return;
    const actor = payload.actor as { name?: string } | undefined;
    const event = makeEvent({ type, tenant: "_config", actor: actor?.name ?? "anonymous", payload: { kind: "audit", id: uuidv7(), version: 1, ...payload } });
    append.call(this.opts.config, event).catch((err: Error) => console.warn(`[identity] audit event not recorded: ${err.message}`));
  }
}

function unauthorized(code: string, message: string): GatewayError {
  return new GatewayError({ status: 401, code, message, headers: { "www-authenticate": 'Bearer realm="tollgate-admin"' } });
}
