/**
 * Pure: a verified token's claims → the principal it stands for (tenant, service, end customer,
 * allowed models, limits and the budget scope), per its issuer's mapping. The result is shaped
 * like a virtual key (KeyRecord), so every plugin treats a token like a key of that tenant.
 */
import type { KeyRecord } from "../../config/tenancy.ts";
import type { JwtIssuerFields } from "../entities.ts";

/** A claim by exact name first (Auth0's `https://…/tenant`), else by dot path (`app.tenant`). */
export function claim(payload: Record<string, unknown>, name: string | undefined): unknown {
  if (!name) return undefined;
  if (name in payload) return payload[name];
  let v: unknown = payload;
  for (const part of name.split(".")) {
    if (!v || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

const str = (v: unknown, max = 256): string | undefined => (typeof v === "string" && v.length > 0 && v.length <= max ? v : typeof v === "number" ? String(v) : undefined);
const posInt = (v: unknown): number | undefined => {
  const n = typeof v === "string" ? Number(v) : v;
  return typeof n === "number" && Number.isInteger(n) && n > 0 ? n : undefined;
};

export type Mapped = { ok: true; key: KeyRecord; subject: string } | { ok: false; message: string };

/** Map claims to a key-like record. `issuerId` names the issuer entity. */
export function mapClaims(issuerId: string, f: JwtIssuerFields, payload: Record<string, unknown>): Mapped {
  const c = f.claims ?? {};
  const subject = str(payload.sub) ?? "unknown";
  const raw = f.tenant ?? str(claim(payload, c.tenant));
  const tenant = raw !== undefined ? (f.tenant_map?.[raw] ?? raw) : undefined;
  if (!tenant) return { ok: false, message: `The token names no tenant (claim \`${c.tenant ?? "tenant"}\`)` };
  const service = str(claim(payload, c.service), 128);
  const user = str(claim(payload, c.user_id));
  const m = claim(payload, c.models);
  const models = Array.isArray(m) ? m.filter((x): x is string => typeof x === "string" && x.length > 0) : typeof m === "string" ? m.split(/[\s,]+/).filter(Boolean) : undefined;
  const scope = str(claim(payload, c.budget_scope), 128) ?? service ?? subject;
  const rpm = posInt(claim(payload, c.rpm_limit)) ?? f.rpm_limit;
  const tpm = posInt(claim(payload, c.tpm_limit)) ?? f.tpm_limit;
  const key: KeyRecord = {
    // Limits and budgets count per issuer and scope: every token of one scope shares them.
    id: `jwt:${issuerId}:${scope}`,
    tenant,
    prefix: `jwt:${issuerId}`,
    ...(service ? { service } : {}),
    ...(user ? { user } : {}),
    ...(models && models.length ? { models } : {}),
    ...(rpm ? { rpm_limit: rpm } : {}),
    ...(tpm ? { tpm_limit: tpm } : {}),
    ...(f.budget ? { budget: f.budget } : {}),
  };
  return { ok: true, key, subject };
}
