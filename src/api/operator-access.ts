/**
 * Who may read operational data (issue 22, finding 8):
 * - `/metrics` (tenant ids, spend, budgets per key): open unless TOLLGATE_METRICS_TOKEN is set;
 *   then only `Authorization: Bearer <metrics token>` or the admin key;
 * - `/ready` details (backend errors): the admin key or the metrics token; anyone else sees the
 *   status alone (and the status code, for load balancers);
 * - `/v1/models`, `/v1/providers`: any valid credential — a virtual key, the admin key — or none
 *   in first-run mode (loopback, no virtual key yet), as for model calls.
 */
import type { TenancySnapshot } from "../config/tenancy.ts";
import { authenticate, credentialFrom } from "../plugins/auth.ts";
import { GatewayError } from "../pipeline/errors.ts";
import { matchesAdminKey } from "./admin.ts";

export interface OperatorAccess {
  adminKey: string | undefined;
  metricsToken?: string | undefined;
}

const bearer = (request: Request) => /^Bearer\s+(.+)$/i.exec(request.headers.get("authorization") ?? "")?.[1]?.trim() ?? request.headers.get("x-service-key") ?? undefined;

/** The admin key or the metrics token (constant-time). */
export function isOperator(access: OperatorAccess, request: Request): boolean {
  const given = bearer(request);
  return matchesAdminKey(access.adminKey, given) || (access.metricsToken !== undefined && matchesAdminKey(access.metricsToken, given));
}

/** Throws 401 when `/metrics` needs the token and the caller has neither it nor the admin key. */
export function checkMetricsAccess(access: OperatorAccess, request: Request): void {
  if (access.metricsToken === undefined || isOperator(access, request)) return;
  throw new GatewayError({ status: 401, code: "missing_metrics_token", message: "/metrics needs the metrics token (TOLLGATE_METRICS_TOKEN) or the admin key as `Authorization: Bearer …`" });
}

/** Throws the auth error when the caller has no valid credential for the model listing. */
export function checkAnyCredential(access: OperatorAccess & { loopback: boolean }, tenancy: TenancySnapshot | undefined, request: Request): void {
  if (isOperator(access, request)) return;
  const d = authenticate(tenancy, credentialFrom(request.headers), { loopback: access.loopback, now: Date.now() });
  if (!d.ok) throw new GatewayError({ status: d.status, code: d.code, message: d.message });
}
