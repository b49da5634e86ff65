/**
 * Identity config entities (TypeBox): named admin identities (`admin`) and JWT issuers
 * (`jwt_issuer`). They live in the config stream like every other entity, so they have history,
 * point-in-time views, and every instance converges on them within a second.
 */
import { Type as T, type Static } from "@sinclair/typebox";

export const ROLES = ["owner", "operator", "analyst", "tenant_admin"] as const;
export type Role = (typeof ROLES)[number];

const IsoTime = T.String({ minLength: 10, maxLength: 40, description: "ISO-8601 time" });

/**
 * A named admin identity: id = `adm_<ulid>`. Like a virtual key, the admin key (`tga-…`) itself
 * is never stored or evented: only its SHA-256 hash and a visible prefix.
 */
export const AdminFields = T.Object(
  {
    name: T.String({ minLength: 1, maxLength: 128, description: "Who this is (unique among live admins), e.g. `alice@example.com`" }),
    role: T.Union(ROLES.map((r) => T.Literal(r))),
    /** tenant_admin only: the one tenant it administers. */
    tenant: T.Optional(T.String({ minLength: 1, maxLength: 64 })),
    /** An admin key (absent: the identity signs in with an OIDC ID token only). */
    prefix: T.Optional(T.String({ pattern: "^tga-[0-9A-Za-z]{1,8}$" })),
    hash: T.Optional(T.String({ pattern: "^[0-9a-f]{64}$" })),
    /** Sign-in with an ID token of a configured JWT issuer: its `sub` for this identity. */
    oidc: T.Optional(T.Object({ issuer: T.String({ minLength: 1, maxLength: 64, description: "A jwt_issuer id" }), subject: T.String({ minLength: 1, maxLength: 256, description: "The token's `sub`" }) }, { additionalProperties: false })),
    created_at: T.Optional(IsoTime),
    revoked_at: T.Optional(IsoTime),
  },
  { additionalProperties: false },
);
export type AdminFields = Static<typeof AdminFields>;

export const JWT_ALGORITHMS = ["RS256", "ES256", "EdDSA"] as const;
const ClaimName = T.String({ minLength: 1, maxLength: 256, description: "A claim name (exact, e.g. `https://example.com/tenant`) or a dot path (`app_metadata.tenant`)" });

/** Where each part of the principal comes from in a verified token. */
export const ClaimsMapping = T.Object(
  {
    tenant: T.Optional(ClaimName),
    service: T.Optional(ClaimName),
    user_id: T.Optional(ClaimName),
    models: T.Optional(ClaimName),
    rpm_limit: T.Optional(ClaimName),
    tpm_limit: T.Optional(ClaimName),
    budget_scope: T.Optional(ClaimName),
  },
  { additionalProperties: false },
);
export type ClaimsMapping = Static<typeof ClaimsMapping>;

/** A JWT issuer (id = a slug): who may sign service tokens and how their claims map. */
export const JwtIssuerFields = T.Object(
  {
    issuer: T.String({ minLength: 1, maxLength: 512, description: "The exact `iss` claim" }),
    audience: T.Union([T.String({ minLength: 1, maxLength: 512 }), T.Array(T.String({ minLength: 1, maxLength: 512 }), { minItems: 1, maxItems: 16 })], { description: "Accepted `aud` value(s)" }),
    jwks_url: T.Optional(T.String({ pattern: "^https?://", maxLength: 2048 })),
    public_keys: T.Optional(T.Array(T.Record(T.String(), T.Unknown()), { minItems: 1, maxItems: 32, description: "Static public keys as JWKs (no private parts)" })),
    algorithms: T.Optional(T.Array(T.Union(JWT_ALGORITHMS.map((a) => T.Literal(a))), { minItems: 1, uniqueItems: true })),
    clock_skew_seconds: T.Optional(T.Integer({ minimum: 0, maximum: 300, description: "Leeway for exp / nbf / iat (default 30)" })),
    /** Least time between two JWKS refreshes caused by an unknown `kid` (default 30 s). */
    jwks_refresh_seconds: T.Optional(T.Integer({ minimum: 0, maximum: 3600 })),
    /** A fixed tenant for every token of this issuer (else `claims.tenant`). */
    tenant: T.Optional(T.String({ minLength: 1, maxLength: 64 })),
    /** Claim value → tenant id (e.g. an Entra `tid` GUID → `acme`). */
    tenant_map: T.Optional(T.Record(T.String(), T.String({ minLength: 1, maxLength: 64 }))),
    claims: T.Optional(ClaimsMapping),
    /** Defaults for every token's limits (claims may set rpm/tpm per token). */
    rpm_limit: T.Optional(T.Integer({ minimum: 1 })),
    tpm_limit: T.Optional(T.Integer({ minimum: 1 })),
    budget: T.Optional(T.Object({ amount_usd: T.Number({ minimum: 0 }), period: T.Union([T.Literal("day"), T.Literal("month")]) }, { additionalProperties: false })),
    /** What its tokens may do: call models as services (default), and/or sign admins in (ID tokens). */
    use: T.Optional(T.Array(T.Union([T.Literal("service"), T.Literal("admin")]), { minItems: 1, uniqueItems: true })),
    enabled: T.Boolean(),
  },
  { additionalProperties: false },
);
/** The uses of an issuer (default: service calls only). */
export const issuerUses = (f: { use?: readonly ("service" | "admin")[] | undefined }): readonly ("service" | "admin")[] => f.use ?? ["service"];
export type JwtIssuerFields = Static<typeof JwtIssuerFields>;

/** Private JWK members: a key holding one of these is refused (only public keys belong in config). */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k"];

/** Pure: what is wrong with an issuer beyond its schema (undefined: nothing). */
export function issuerProblem(f: JwtIssuerFields): { message: string; param: string } | undefined {
  if (!f.jwks_url && !f.public_keys) return { message: "A JWT issuer needs `jwks_url` or `public_keys`", param: "jwks_url" };
  for (const [i, k] of (f.public_keys ?? []).entries()) {
    if (PRIVATE_MEMBERS.some((m) => m in k)) return { message: `public_keys[${i}] holds private or symmetric key material: give public keys only`, param: `public_keys.${i}` };
    if (!["RSA", "EC", "OKP"].includes(String(k.kty))) return { message: `public_keys[${i}].kty must be RSA, EC or OKP`, param: `public_keys.${i}.kty` };
  }
  if (issuerUses(f).includes("service") && !f.tenant && !f.claims?.tenant) return { message: "A JWT issuer for services needs a fixed `tenant` or `claims.tenant`", param: "tenant" };
  return undefined;
}
