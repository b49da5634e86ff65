/**
 * Pure checks the config decider runs on identity entities (beyond their schemas).
 */
import { GatewayError } from "../pipeline/errors.ts";
import type { ConfigState } from "../projections/config/model.ts";
import { type AdminFields, issuerProblem, issuerUses, type JwtIssuerFields } from "./entities.ts";

const invalid = (message: string, code: string, param?: string) => new GatewayError({ status: 400, code, message, ...(param ? { param } : {}) });

export function checkIdentityEntity(state: ConfigState, kind: "admin" | "jwt_issuer", id: string, fields: Record<string, unknown>): void {
  if (kind === "jwt_issuer") {
    const f = fields as JwtIssuerFields;
    const problem = issuerProblem(f);
    if (problem) throw invalid(problem.message, "invalid_config", problem.param);
    if (f.tenant && !state.entities.tenant[f.tenant]) throw invalid(`Unknown tenant \`${f.tenant}\``, "unknown_tenant", "tenant");
    return;
  }
  const f = fields as AdminFields;
  if (f.role === "tenant_admin") {
    if (!f.tenant) throw invalid("A `tenant_admin` needs a `tenant`", "invalid_config", "tenant");
    if (!state.entities.tenant[f.tenant]) throw invalid(`Unknown tenant \`${f.tenant}\``, "unknown_tenant", "tenant");
  } else if (f.tenant !== undefined) throw invalid("Only a `tenant_admin` has a `tenant`", "invalid_config", "tenant");
  if (!f.hash && !f.oidc) throw invalid("An admin needs an admin key or an `oidc` sign-in", "invalid_config", "oidc");
  if ((f.hash === undefined) !== (f.prefix === undefined)) throw invalid("`hash` and `prefix` go together", "invalid_config", "hash");
  if (f.oidc && !state.entities.jwt_issuer[f.oidc.issuer]) throw invalid(`Unknown JWT issuer \`${f.oidc.issuer}\``, "unknown_issuer", "oidc.issuer");
  if (f.oidc && !issuerUses(state.entities.jwt_issuer[f.oidc.issuer]!.fields).includes("admin")) throw invalid(`JWT issuer \`${f.oidc.issuer}\` does not sign admins in (add "admin" to its \`use\`)`, "invalid_config", "oidc.issuer");
  for (const other of Object.values(state.entities.admin)) {
    if (other.id === id || other.fields.revoked_at) continue;
    if (other.fields.name === f.name) throw invalid(`An admin named \`${f.name}\` already exists (${other.id})`, "duplicate_admin_name", "name");
    if (f.hash && other.fields.hash === f.hash) throw new GatewayError({ status: 409, code: "already_exists", message: "This admin key hash is already in use" });
    if (f.oidc && other.fields.oidc?.issuer === f.oidc.issuer && other.fields.oidc.subject === f.oidc.subject) {
      throw new GatewayError({ status: 409, code: "already_exists", message: `Subject \`${f.oidc.subject}\` of \`${f.oidc.issuer}\` is already ${other.id}` });
    }
  }
}

/** Live tenant_admins of a tenant (a tenant with any cannot be deleted). */
export function liveTenantAdmins(state: ConfigState, tenant: string): string[] {
  return Object.values(state.entities.admin ?? {}).filter((a) => a.fields.tenant === tenant && !a.fields.revoked_at).map((a) => a.id);
}
