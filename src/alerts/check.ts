/** Reference checks of alert entities against the config state (called by the config decider). */
import { GatewayError } from "../pipeline/errors.ts";
import type { ConfigState } from "../projections/config/model.ts";
import { type AlertDestinationFields, type AlertRuleFields, alertRuleProblem } from "./config.ts";

const invalid = (message: string, code: string, param?: string) => new GatewayError({ status: 400, code, message, ...(param ? { param } : {}) });

export function checkAlertEntity(state: ConfigState, kind: "alert_rule" | "alert_destination", fields: Record<string, unknown>): void {
  const tenant = fields.tenant as string | undefined;
  if (tenant && !state.entities.tenant[tenant]) throw invalid(`Unknown tenant \`${tenant}\``, "unknown_tenant", "tenant");
  if (kind === "alert_destination") {
    const f = fields as AlertDestinationFields;
    if (f.secret_enc && f.secret_env) throw invalid("Give the signing secret as `secret` or `secret_env`, not both", "invalid_config", "secret_env");
    return;
  }
  const f = fields as AlertRuleFields;
  const problem = alertRuleProblem(f);
  if (problem) throw invalid(problem.message, "invalid_config", problem.param);
  for (const [i, d] of (f.destinations ?? []).entries()) {
    if (!state.entities.alert_destination[d]) throw invalid(`Unknown alert destination \`${d}\``, "unknown_destination", `destinations.${i}`);
  }
}
