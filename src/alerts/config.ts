/**
 * Alert rules and destinations: config entities (`alert_rule`, `alert_destination`), decided and
 * folded like every other entity (src/projections/config), so they have history and `?at=` views.
 *
 * A rule is global (no `tenant`) or belongs to one tenant (it then only sees that tenant's
 * traffic). One schema for every kind; `alertRuleProblem` checks the fields a kind needs.
 */
import { Type as T, type Static } from "@sinclair/typebox";

export const ALERT_RULE_KINDS = ["budget", "spend_spike", "error_rate", "breaker_open", "latency", "fallback_rate", "key_expiry", "guardrail_blocks"] as const;
export type AlertRuleKind = (typeof ALERT_RULE_KINDS)[number];

const Slug = T.String({ pattern: "^[a-z0-9][a-z0-9_-]{0,63}$" });

export const AlertRuleFields = T.Object(
  {
    kind: T.Union(ALERT_RULE_KINDS.map((k) => T.Literal(k)), { description: "What the rule watches" }),
    /** Only this tenant's traffic (absent: every tenant; per-tenant kinds then fire per tenant). */
    tenant: T.Optional(Slug),
    /** error_rate, breaker_open, latency: one provider (absent: each provider on its own). */
    provider: T.Optional(T.String({ minLength: 1, maxLength: 64 })),
    /** latency: one model of the provider (absent: each model on its own). */
    model: T.Optional(T.String({ minLength: 1, maxLength: 256 })),
    /** fallback_rate: the route (requested model or alias); absent: each route on its own. */
    route: T.Optional(T.String({ minLength: 1, maxLength: 256 })),
    /** spend_spike: one service (absent: per tenant). */
    service: T.Optional(T.String({ minLength: 1, maxLength: 128 })),
    /** budget: which budget, `tenant:<id>`, `key:<id>` or `customer:<id>` (absent: every budget of `tenant`). */
    budget: T.Optional(T.String({ pattern: "^(tenant|key|customer|provider):[^\\s]{1,300}$" })),
    /** budget on `customer:<user id>`: the customer's budget (customers have no enforced budget of their own). */
    amount_usd: T.Optional(T.Number({ exclusiveMinimum: 0 })),
    period: T.Optional(T.Union([T.Literal("day"), T.Literal("month")])),
    /** budget: percentages of the limit, each fires once per period (default 50, 80, 100). */
    thresholds_pct: T.Optional(T.Array(T.Number({ exclusiveMinimum: 0, maximum: 1000 }), { minItems: 1, maxItems: 10 })),
    /** error_rate, fallback_rate: fire at or above this percentage. */
    threshold_pct: T.Optional(T.Number({ exclusiveMinimum: 0, maximum: 100 })),
    /** latency: which measure, `latency` (end to end) or `ttft` (time to first token). */
    metric: T.Optional(T.Union([T.Literal("latency"), T.Literal("ttft")])),
    /** latency: fire when the p95 is above this many ms. */
    p95_ms: T.Optional(T.Number({ exclusiveMinimum: 0 })),
    /** error_rate, latency, fallback_rate: the sliding window, seconds (default 300). */
    window_s: T.Optional(T.Integer({ minimum: 10, maximum: 3600 })),
    /** error_rate, latency, fallback_rate: samples needed in the window to decide (default 20). */
    min_samples: T.Optional(T.Integer({ minimum: 1, maximum: 1_000_000 })),
    /** spend_spike: the last hour over `factor` × the median hour of the previous 7 days (default 3). */
    factor: T.Optional(T.Number({ exclusiveMinimum: 1, maximum: 1000 })),
    /** spend_spike: and at least this many USD in the last hour (default 1). */
    min_usd: T.Optional(T.Number({ minimum: 0 })),
    /** key_expiry: a key expiring within this many days (default 7). */
    days: T.Optional(T.Integer({ minimum: 1, maximum: 365 })),
    /** guardrail_blocks: more than this many blocked requests in the last hour. */
    max_per_hour: T.Optional(T.Integer({ minimum: 0 })),
    /** Destination ids to notify (absent: every enabled destination of the rule's scope). */
    destinations: T.Optional(T.Array(Slug, { maxItems: 20 })),
    description: T.Optional(T.String({ maxLength: 500 })),
    enabled: T.Boolean(),
  },
  { additionalProperties: false },
);
export type AlertRuleFields = Static<typeof AlertRuleFields>;

export const AlertDestinationFields = T.Object(
  {
    /** `webhook`: a signed JSON POST; `slack`: a Slack-compatible incoming-webhook payload. */
    kind: T.Union([T.Literal("webhook"), T.Literal("slack")]),
    url: T.String({ pattern: "^https?://", maxLength: 2000 }),
    /** Only alerts of this tenant's rules (absent: every alert). */
    tenant: T.Optional(Slug),
    /** AES-256-GCM ciphertext of the signing secret (set through `secret`, never shown). */
    secret_enc: T.Optional(T.String({ minLength: 1 })),
    secret_hint: T.Optional(T.String()),
    /** Or: the name of an env variable holding the signing secret. */
    secret_env: T.Optional(T.String({ pattern: "^[A-Z][A-Z0-9_]*$" })),
    /** Retry backoff base and cap, ms (defaults 1000 and 60000). */
    backoff_base_ms: T.Optional(T.Integer({ minimum: 10, maximum: 60_000 })),
    backoff_max_ms: T.Optional(T.Integer({ minimum: 10, maximum: 3_600_000 })),
    enabled: T.Boolean(),
  },
  { additionalProperties: false },
);
export type AlertDestinationFields = Static<typeof AlertDestinationFields>;

export const ALERT_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** What a rule of its kind is missing or has wrong (undefined: fine). */
export function alertRuleProblem(f: AlertRuleFields): { message: string; param: string } | undefined {
  const need = (field: keyof AlertRuleFields) => (f[field] === undefined ? { message: `A ${f.kind} rule needs \`${field}\``, param: field } : undefined);
  switch (f.kind) {
    case "error_rate":
    case "fallback_rate":
      return need("threshold_pct");
    case "latency":
      return need("p95_ms");
    case "guardrail_blocks":
      return need("max_per_hour");
    case "budget":
      if (!f.budget && !f.tenant) return { message: "A budget rule needs `budget` (e.g. `tenant:acme`) or `tenant`", param: "budget" };
      if (f.budget?.startsWith("customer:") && f.amount_usd === undefined) return { message: "A customer budget rule needs `amount_usd` (and `period`, default `month`)", param: "amount_usd" };
      return undefined;
    default:
      return undefined;
  }
}

/** The rule settings with their defaults filled in. */
export function ruleDefaults(f: AlertRuleFields) {
  return {
    windowMs: (f.window_s ?? 300) * 1000,
    minSamples: f.min_samples ?? 20,
    thresholds: [...(f.thresholds_pct ?? [50, 80, 100])].sort((a, b) => a - b),
    factor: f.factor ?? 3,
    minUsd: f.min_usd ?? 1,
    days: f.days ?? 7,
    metric: f.metric ?? "latency",
  };
}
