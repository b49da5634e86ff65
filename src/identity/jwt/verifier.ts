/**
 * JWT service authentication (jose). Issuers are config entities; a token is matched to its
 * issuer by `iss`, verified against the issuer's keys — a JWKS URL (cached by jose, re-fetched
 * on an unknown `kid` at most once per `jwks_refresh_seconds`) or static public keys — with only
 * RS256 / ES256 / EdDSA accepted (never `none`, never HMAC: a public key cannot be an HMAC
 * secret here), `aud` and `iss` checked, `exp` / `nbf` with a bounded clock skew.
 *
 * Fast path: a token verified once is remembered (bounded, until its `exp`), so a service that
 * reuses its token pays one Map lookup per request; `cached()` answers synchronously.
 */
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, errors, type JWTPayload, jwtVerify, type JWK } from "jose";
import type { KeyRecord } from "../../config/tenancy.ts";
import type { ConfigState, Entity } from "../../projections/config/model.ts";
import { issuerUses, JWT_ALGORITHMS } from "../entities.ts";
import { type Mapped, mapClaims } from "./claims.ts";

export type JwtDenied = "token_keys_unavailable" | "invalid_token" | "expired_token" | "token_not_yet_valid" | "invalid_token_audience" | "unknown_token_issuer" | "unknown_signing_key" | "token_algorithm_refused";
export type JwtResult = { ok: true; key: KeyRecord; issuer: string; subject: string; expMs: number } | { ok: false; code: JwtDenied; message: string };

/** A token whose signature and registered claims were verified; `mapped`: its service principal. */
export interface VerifiedToken {
  ok: true;
  /** The issuer entity's id. */
  issuer: string;
  /** The issuer's uses (service calls, admin sign-in). */
  uses: readonly ("service" | "admin")[];
  subject: string;
  expMs: number;
  mapped: Mapped;
}

type KeySet = ReturnType<typeof createRemoteJWKSet> | ReturnType<typeof createLocalJWKSet>;
interface IssuerEntry {
  entity: Entity<"jwt_issuer">;
  keys: KeySet;
}

const JWT_SHAPE = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;
const MAX_CACHED = 10_000;

/** Whether a credential has the shape of a compact JWS (three base64url parts, a JSON header). */
export function looksLikeJwt(credential: unknown): credential is string {
  return typeof credential === "string" && credential.length < 16_384 && JWT_SHAPE.test(credential);
}

export class JwtVerifier {
  private entities: ConfigState["entities"]["jwt_issuer"] | undefined;
  private byIss = new Map<string, IssuerEntry>();
  /** Keys sets survive config changes that do not touch the issuer's key source (keeps jose's JWKS cache). */
  private keySets = new Map<string, { source: string; keys: KeySet }>();
  private readonly verified = new Map<string, { result: VerifiedToken; nbfMs: number; generation: Map<string, IssuerEntry> }>();

  constructor(
    private readonly state: () => ConfigState,
    private readonly now: () => number = Date.now,
  ) {}

  /** A token verified before and still valid: its result, synchronously (undefined: verify it). */
  cached(token: string): Extract<JwtResult, { ok: true }> | undefined {
    const v = this.cachedToken(token);
    return v?.mapped.ok && v.uses.includes("service") ? { ok: true, key: v.mapped.key, issuer: v.issuer, subject: v.subject, expMs: v.expMs } : undefined;
  }

  /** Service authentication: a verified token whose claims map to a principal. */
  async verify(token: string): Promise<JwtResult> {
    const v = await this.verifyToken(token);
    if (!v.ok) return v;
    if (!v.uses.includes("service")) return { ok: false, code: "unknown_token_issuer", message: "The token's issuer does not authenticate services" };
    if (!v.mapped.ok) return { ok: false, code: "invalid_token", message: v.mapped.message };
    return { ok: true, key: v.mapped.key, issuer: v.issuer, subject: v.subject, expMs: v.expMs };
  }

  /** A verified token (signature, iss, aud, exp/nbf), from the cache when seen before (synchronous). */
  cachedToken(token: string): VerifiedToken | undefined {
    const issuers = this.issuers();
    const hit = this.verified.get(token);
    if (!hit) return undefined;
    const now = this.now();
    if (hit.generation !== issuers || now >= hit.result.expMs || now < hit.nbfMs) {
      this.verified.delete(token);
      return undefined;
    }
    return hit.result;
  }

  /** Verify a token's signature and registered claims (any use: service calls, admin sign-in). */
  async verifyToken(token: string): Promise<VerifiedToken | Extract<JwtResult, { ok: false }>> {
    const cached = this.cachedToken(token);
    if (cached) return cached;
    let iss: string | undefined;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      return { ok: false, code: "invalid_token", message: "The bearer token is not a valid JWT" };
    }
    const issuers = this.issuers();
    const entry = iss !== undefined ? issuers.get(iss) : undefined;
    if (!entry) return { ok: false, code: "unknown_token_issuer", message: "The token's issuer is not configured (or disabled)" };
    const f = entry.entity.fields;
    const skew = f.clock_skew_seconds ?? 30;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, entry.keys, {
        issuer: f.issuer,
        audience: f.audience,
        algorithms: [...(f.algorithms ?? JWT_ALGORITHMS)],
        clockTolerance: skew,
        requiredClaims: ["exp"],
        currentDate: new Date(this.now()),
      }));
    } catch (err) {
      return denied(err);
    }
    const mapped = mapClaims(entry.entity.id, f, payload as Record<string, unknown>);
    const result: VerifiedToken = { ok: true, uses: issuerUses(f), issuer: entry.entity.id, subject: typeof payload.sub === "string" ? payload.sub : "", expMs: (payload.exp! + skew) * 1000, mapped };
    if (this.verified.size >= MAX_CACHED) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { result, nbfMs: payload.nbf !== undefined ? (payload.nbf - skew) * 1000 : 0, generation: issuers });
    return result;
  }

  /** Enabled issuers by `iss`, rebuilt when the issuer entities change. */
  private issuers(): Map<string, IssuerEntry> {
    const entities = this.state().entities.jwt_issuer;
    if (entities === this.entities) return this.byIss;
    const next = new Map<string, IssuerEntry>();
    for (const e of Object.values(entities ?? {})) {
      if (!e.fields.enabled) continue;
      next.set(e.fields.issuer, { entity: e, keys: this.keySet(e) });
    }
    this.entities = entities;
    this.byIss = next;
    return next;
  }

  private keySet(e: Entity<"jwt_issuer">): KeySet {
    const f = e.fields;
    const source = JSON.stringify([f.jwks_url, f.public_keys, f.jwks_refresh_seconds]);
    const known = this.keySets.get(e.id);
    if (known?.source === source) return known.keys;
    const keys = f.jwks_url
      ? createRemoteJWKSet(new URL(f.jwks_url), { cooldownDuration: (f.jwks_refresh_seconds ?? 30) * 1000, cacheMaxAge: 10 * 60_000, timeoutDuration: 5_000 })
      : createLocalJWKSet({ keys: (f.public_keys ?? []) as JWK[] });
    this.keySets.set(e.id, { source, keys });
    return keys;
  }
}

/** A jose error → our code (no token content in the message). */
function denied(err: unknown): Extract<JwtResult, { ok: false }> {
  if (err instanceof errors.JWTExpired) return { ok: false, code: "expired_token", message: "The token has expired" };
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === "nbf") return { ok: false, code: "token_not_yet_valid", message: "The token is not valid yet (nbf)" };
    if (err.claim === "aud") return { ok: false, code: "invalid_token_audience", message: "The token's audience is not accepted" };
    if (err.claim === "iss") return { ok: false, code: "unknown_token_issuer", message: "The token's issuer does not match" };
    return { ok: false, code: "invalid_token", message: `The token's \`${err.claim}\` claim is invalid` };
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) return { ok: false, code: "token_algorithm_refused", message: "The token's algorithm is refused (RS256, ES256 or EdDSA only)" };
  if (err instanceof errors.JWKSNoMatchingKey) return { ok: false, code: "unknown_signing_key", message: "No key of the issuer matches the token's `kid`" };
  // The IdP's JWKS could not be fetched (down, slow, not JSON): not the caller's fault.
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || !(err instanceof errors.JOSEError) || err.code === "ERR_JOSE_GENERIC") {
    return { ok: false, code: "token_keys_unavailable", message: "The token issuer's keys (JWKS) cannot be fetched right now; retry shortly" };
  }
  return { ok: false, code: "invalid_token", message: "The token's signature or format is invalid" };
}
