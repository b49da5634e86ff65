/**
 * Explain: a request's decisions replayed against the configuration at its config version, with
 * the same pure functions the plugins call (route resolution in src/routing, the strategy's
 * `selectTargets`, `admissionSpecs` of the limits plugin, the guardrail policy of
 * src/guardrails, the cache policy of src/cache). Pure: facts of the request + a snapshot in,
 * JSON + short sentences out. The recorded events say what happened; this says why.
 */
import { effectivePolicy } from "../cache/policy.ts";
import type { ConfigSnapshot, RouteConfig } from "../config/snapshot.ts";
import type { KeyRecord } from "../config/tenancy.ts";
import { policyFor } from "../guardrails/config.ts";
import { admissionSpecs, type LimitHolder } from "../plugins/limits.ts";
import { resolveModel } from "../plugins/routing.ts";
import { resolveCustomerOverride } from "../routing/customer-overrides.ts";
import { selectTargets } from "../routing/select.ts";
import { targetKey } from "../routing/types.ts";

/** What the request's events recorded (no prompt text: ids, names, counts). */
export interface RequestFacts {
  tenant: string;
  keyId?: string;
  service?: string;
  user?: string;
  requestedModel?: string;
  operation: "chat" | "embeddings";
  status?: string;
  errorCode?: string;
  /** route.selected as recorded. */
  routeSelected?: { level?: string; override?: string; strategy?: string; targets?: string[]; reason?: string; provider?: string; model?: string };
  cacheResult?: string;
  cacheBypass?: string;
  similarity?: number;
  /** Guardrail events' types by action. */
  guardrails: { detected: string[]; redacted: string[]; blocked: string[] };
  limitHit?: { kind: "rate" | "budget"; which: string };
}

export interface LevelCheck {
  level: string;
  matched: boolean;
  why: string;
  /** The config entity behind this level, when one exists. */
  entity?: { kind: string; id: string };
}

export interface RouteDecision {
  level: string | null;
  entity: { kind: string; id: string } | null;
  strategy: string | null;
  /** provider/model targets of the route, in config order. */
  targets: string[];
  /** The strategy's ranking with every target healthy (the recorded order is in `recorded`). */
  ranking: string[];
  ranking_reason: string | null;
  checked: LevelCheck[];
}

export interface Explanation {
  config_version: number;
  route: RouteDecision;
  limits: { key: Record<string, unknown> | null; tenant: Record<string, unknown> | null; specs: string[] };
  guardrails: { pii_action: string; pii_types: string[]; actions: Record<string, string>; blocklist_rules: number; fail_mode: string } | null;
  cache: { mode: string; ttl_seconds: number; scope: string; semantic: boolean };
  reasons: string[];
}

const own = <T>(o: Readonly<Record<string, T>> | undefined, k: string): T | undefined => (o && Object.hasOwn(o, k) ? o[k] : undefined);

function keyOf(snapshot: ConfigSnapshot, keyId: string | undefined): KeyRecord | undefined {
  if (!keyId || !snapshot.tenancy) return undefined;
  for (const k of snapshot.tenancy.keys.values()) if (k.id === keyId) return k;
  return undefined;
}

/** Pure: every level the routing plugin checks, in its order, and which one decided. */
export function explainRoute(snapshot: ConfigSnapshot, f: RequestFacts): RouteDecision {
  const alias = f.requestedModel ?? "";
  const checked: LevelCheck[] = [];
  let decided: { level: string; route?: RouteConfig; entity?: { kind: string; id: string }; single?: { provider: string; model: string } } | undefined;
  const customer = f.operation === "chat" ? resolveCustomerOverride(snapshot.customerOverrides, f.tenant, f.service, f.user) : undefined;
  for (const level of ["customer_service", "customer"] as const) {
    if (f.operation !== "chat") checked.push({ level, matched: false, why: "customer overrides apply to chat requests only" });
    else if (!f.user) checked.push({ level, matched: false, why: "the request named no end customer (user_id)" });
    else if (level === "customer_service" && !f.service) checked.push({ level, matched: false, why: "the request named no service" });
    else if (customer && customer.level === level && !decided) {
      const entity = { kind: "customer_override", id: customer.override.id };
      checked.push({ level, matched: true, why: `customer override \`${customer.override.id}\` sends user \`${f.user}\`${level === "customer_service" ? ` on service \`${f.service}\`` : ""} to ${customer.override.provider}/${customer.override.model}`, entity });
      decided = { level, entity, single: { provider: customer.override.provider, model: customer.override.model } };
    } else checked.push({ level, matched: false, why: decided ? "a more specific level already decided" : `no customer override for user \`${f.user}\`${level === "customer_service" ? ` on service \`${f.service}\`` : ""}` });
  }
  const tableChecks: Array<[string, RouteConfig | undefined, { kind: string; id: string }, string]> = [
    ["tenant_service", f.service ? own(own(snapshot.routes.tenantService, `${f.tenant}/${f.service}`), alias) : undefined, { kind: "route_override", id: `${f.tenant}/${f.service ?? ""}/${alias}` }, f.service ? `no override of \`${alias}\` for tenant \`${f.tenant}\` service \`${f.service}\`` : "the request named no service"],
    ["tenant", own(own(snapshot.routes.tenant, f.tenant), alias), { kind: "route_override", id: `${f.tenant}/${alias}` }, `no override of \`${alias}\` for tenant \`${f.tenant}\``],
    ["global", own(snapshot.routes.global, alias), { kind: "route", id: alias }, `no global route \`${alias}\``],
  ];
  for (const [level, route, entity, whyNot] of tableChecks) {
    if (decided) checked.push({ level, matched: false, why: "a more specific level already decided" });
    else if (route) {
      checked.push({ level, matched: true, why: `${entity.kind} \`${entity.id}\` defines \`${alias}\` (${route.strategy} over ${route.targets.map(targetKey).join(", ")})`, entity });
      decided = { level, route, entity };
    } else checked.push({ level, matched: false, why: whyNot });
  }
  if (!decided) {
    const m = resolveModel(alias, snapshot, snapshot.providers);
    if (m) {
      const entity = m.reason === "alias" ? { kind: "model_alias", id: alias } : { kind: "provider", id: m.provider };
      checked.push({ level: m.reason, matched: true, why: m.reason === "alias" ? `model alias \`${alias}\` points to ${m.provider}/${m.model}` : `\`${alias}\` is served by provider \`${m.provider}\` (${m.reason})`, entity });
      decided = { level: m.reason, entity, single: { provider: m.provider, model: m.model } };
    } else checked.push({ level: "model", matched: false, why: `no alias, route or provider serves \`${alias}\`` });
  }
  const route: RouteConfig | undefined = decided?.route;
  const targets = route ? route.targets.map(targetKey) : decided?.single ? [targetKey(decided.single)] : [];
  let ranking = targets;
  let rankingReason: string | null = null;
  if (route) {
    const strategy = (f.routeSelected?.strategy as RouteConfig["strategy"] | undefined) ?? route.strategy;
    const sel = selectTargets(route, new Map(), snapshot.prices, { strategy, ...(f.user ? { userId: f.user } : {}) }, () => 0);
    ranking = sel.targets.map(targetKey);
    rankingReason = sel.reason;
  }
  return { level: decided?.level ?? null, entity: decided?.entity ?? null, strategy: route?.strategy ?? (decided ? "priority" : null), targets, ranking, ranking_reason: rankingReason, checked };
}

function holderView(h: LimitHolder | undefined): Record<string, unknown> | null {
  if (!h) return null;
  const x = h as LimitHolder & { rpm_limit?: number; tpm_limit?: number; budget?: { amount_usd: number; period: string } };
  return { id: x.id, rpm_limit: x.rpm_limit ?? null, tpm_limit: x.tpm_limit ?? null, budget: x.budget ?? null };
}

/** Pure: the explanation at `snapshot` (with its sentences). */
export function explainAt(snapshot: ConfigSnapshot, f: RequestFacts): Explanation {
  const reasons: string[] = [];
  const route = explainRoute(snapshot, f);
  for (const c of route.checked) if (c.matched) reasons.push(`Route: ${c.why} (level ${c.level}).`);
  const skipped = route.checked.filter((c) => !c.matched && c.why !== "a more specific level already decided");
  if (skipped.length) reasons.push(`Checked before it: ${skipped.map((c) => `${c.level} — ${c.why}`).join("; ")}.`);
  if (route.ranking.length > 1) reasons.push(`Strategy ${route.strategy} ranks ${route.ranking.join(" > ")} with every target healthy${f.routeSelected?.targets ? `; recorded order ${f.routeSelected.targets.join(" > ")}` : ""}.`);
  const recorded = f.routeSelected;
  if (recorded?.level && route.level && recorded.level !== route.level) reasons.push(`Note: the request recorded level ${recorded.level}; the replay at this version gives ${route.level}.`);

  const key = keyOf(snapshot, f.keyId);
  const tenantRec = snapshot.tenancy?.tenants[f.tenant];
  const { rates, budgets } = admissionSpecs(key as LimitHolder | undefined, tenantRec as LimitHolder | undefined, 0);
  const specs = [...rates.map((r) => `${r.key} ≤ ${r.limit}/min`), ...budgets.map((b) => `${b.key} ≤ $${(b.limitMicros / 1e6).toFixed(6)} per ${b.period}`)];
  reasons.push(specs.length ? `Limits in force: ${specs.join(", ")}.` : "No rate limit or budget applied (neither the key nor the tenant has one).");
  if (f.limitHit) reasons.push(f.limitHit.kind === "rate" ? `Refused with 429: rate limit ${f.limitHit.which} was full.` : `Refused with 429: budget ${f.limitHit.which} could not fit the request's worst-case cost.`);

  const policy = policyFor(snapshot.guardrails, f.tenant);
  const g = policy?.effective;
  const guardrails = g ? { pii_action: g.pii.action, pii_types: [...g.pii.types], actions: Object.fromEntries(policy!.actions) as Record<string, string>, blocklist_rules: (g.blocklist ?? []).length, fail_mode: g.fail_mode } : null;
  if (!policy || policy.actions.size === 0) reasons.push("Guardrails: no PII policy in force for this tenant.");
  else reasons.push(`Guardrails: ${[...policy.actions].map(([t, a]) => `${t} → ${a}`).join(", ")}${(g?.blocklist ?? []).length ? `, ${(g?.blocklist ?? []).length} blocklist rule(s)` : ""}.`);
  if (f.guardrails.redacted.length) reasons.push(`Redacted before the provider saw it: ${f.guardrails.redacted.join(", ")}.`);
  if (f.guardrails.blocked.length) reasons.push(`Blocked: ${f.guardrails.blocked.join(", ")}.`);

  const cp = effectivePolicy(snapshot.cache, f.tenant);
  const cache = { mode: cp.mode, ttl_seconds: cp.ttlSeconds, scope: cp.scope, semantic: Boolean(cp.semantic) };
  if (cp.mode === "off") reasons.push("Cache: off for this tenant, so nothing was looked up (the key hash is still recorded).");
  else if (f.cacheBypass) reasons.push(`Cache (${cp.mode}, ttl ${cp.ttlSeconds}s): not looked up — ${bypassSentence(f.cacheBypass)}.`);
  else if (f.cacheResult === "exact") reasons.push(`Cache (${cp.mode}): answered by an exact hit.`);
  else if (f.cacheResult === "semantic") reasons.push(`Cache (${cp.mode}): answered by a semantic hit${f.similarity !== undefined ? ` (similarity ${f.similarity.toFixed(4)})` : ""}.`);
  else if (f.cacheResult === "miss") reasons.push(`Cache (${cp.mode}, ttl ${cp.ttlSeconds}s): cacheable, looked up and missed.`);
  return { config_version: snapshot.version, route, limits: { key: holderView(key as LimitHolder | undefined), tenant: holderView(tenantRec as LimitHolder | undefined), specs }, guardrails, cache, reasons };
}

function bypassSentence(reason: string): string {
  switch (reason) {
    case "mode_off":
      return "the cache is off";
    case "ttl_zero":
      return "the TTL is 0";
    case "not_deterministic":
      return "mode `deterministic` and the request had neither temperature 0 nor a seed";
    case "no_store":
      return "the client sent Cache-Control: no-store";
    case "no_cache":
      return "the client sent Cache-Control: no-cache";
    default:
      return reason;
  }
}
