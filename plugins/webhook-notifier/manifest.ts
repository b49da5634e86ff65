import { defineManifest, Type } from "tollgate/plugin";

/** POST budget and guardrail events to a URL per tenant, signed, retried, never lost. */
export default defineManifest({
  name: "webhook-notifier",
  version: "1.0.0",
  description: "Sends budget-threshold and guardrail events to a per-tenant webhook (HMAC-SHA256 signed, retried with backoff, outbox)",
  phases: ["onEvent"],
  events: ["budget.threshold_crossed", "budget.exceeded", "guardrail.*"],
  defaultEnabled: false,
  failurePolicy: "fail-open",
  timeoutMs: 500,
  isolation: "inline",
  settings: Type.Object(
    {
      url: Type.String({ pattern: "^https?://", default: "http://localhost/", description: "Where to POST (per tenant)" }),
      secret_env: Type.String({ pattern: "^[A-Z][A-Z0-9_]*$", default: "TOLLGATE_WEBHOOK_SECRET", description: "Name of the env variable holding the signing secret (the secret never enters the config log)" }),
      backoff_base_ms: Type.Integer({ minimum: 10, maximum: 60_000, default: 1000 }),
      backoff_max_ms: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 300_000 }),
      keep_ms: Type.Integer({ minimum: 60_000, default: 7 * 24 * 3600_000, description: "How long an undelivered event waits in the outbox" }),
    },
    { additionalProperties: false },
  ),
});
