/**
 * Explain one request: its facts from the timeline, the decision replayed at its config version
 * and at the current one, and — when they differ — which entity changed and its history entry.
 */
import type { ConfigSnapshot } from "../config/snapshot.ts";
import type { HistoryEntry } from "../projections/config/service.ts";
import { type Explanation, explainAt, type RequestFacts } from "./explain.ts";
import type { Timeline } from "./timeline.ts";

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** Pure: the facts explain needs, from a timeline's events (ids, names and counts only). */
export function factsOf(t: Timeline): RequestFacts {
  const facts: RequestFacts = { tenant: t.tenant, operation: "chat", guardrails: { detected: [], redacted: [], blocked: [] } };
  for (const e of t.events) {
    const p = e.payload;
    switch (e.type) {
      case "request.received":
        if (p.endpoint === "embeddings") facts.operation = "embeddings";
        break;
      case "route.selected":
        facts.routeSelected = { level: str(p.level), override: str(p.override), strategy: str(p.strategy), reason: str(p.reason), provider: str(p.provider), model: str(p.model), ...(Array.isArray(p.targets) ? { targets: p.targets.map(String) } : {}) };
        break;
      case "guardrail.detected":
      case "guardrail.redacted":
      case "guardrail.blocked": {
        const list = facts.guardrails[e.type.slice("guardrail.".length) as "detected" | "redacted" | "blocked"];
        if (Array.isArray(p.types)) for (const x of p.types) if (!list.includes(String(x))) list.push(String(x));
        break;
      }
      case "ratelimit.exceeded":
        facts.limitHit = { kind: "rate", which: String(p.limit ?? "") };
        break;
      case "budget.exceeded":
        facts.limitHit = { kind: "budget", which: String(p.budget ?? "") };
        break;
      case "cache.semantic_hit":
        if (typeof p.similarity === "number") facts.similarity = p.similarity;
        break;
      case "request.completed": {
        const s = (k: string) => str(p[k]);
        if (s("keyId")) facts.keyId = s("keyId")!;
        if (s("service")) facts.service = s("service")!;
        if (s("user")) facts.user = s("user")!;
        if (s("requestedModel")) facts.requestedModel = s("requestedModel")!;
        if (p.operation === "embeddings") facts.operation = "embeddings";
        if (s("status")) facts.status = s("status")!;
        if (s("errorCode")) facts.errorCode = s("errorCode")!;
        if (s("cacheResult")) facts.cacheResult = s("cacheResult")!;
        if (s("cacheBypass")) facts.cacheBypass = s("cacheBypass")!;
        break;
      }
    }
  }
  if (!facts.requestedModel) {
    const received = t.events.find((e) => e.type === "request.received");
    const m = str(received?.payload.model);
    if (m) facts.requestedModel = m;
  }
  return facts;
}

export interface ExplainChange {
  section: "route" | "limits" | "guardrails" | "cache";
  then: unknown;
  now: unknown;
  entity: { kind: string; id: string } | null;
  history: HistoryEntry | null;
}

export interface ExplainResult extends Explanation {
  id: string;
  tenant: string;
  recorded: { status: string | null; error_code: string | null; route: RequestFacts["routeSelected"] | null; cache: string | null; guardrails: RequestFacts["guardrails"]; limit_hit: RequestFacts["limitHit"] | null };
  current: { config_version: number; same: boolean; changes: ExplainChange[] };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The entities a section's decision depends on (most specific first). */
function entitiesOf(section: ExplainChange["section"], then: Explanation, now: Explanation, f: RequestFacts): Array<{ kind: string; id?: string }> {
  switch (section) {
    case "route": {
      const fromChecks = [...then.route.checked, ...now.route.checked].flatMap((c) => (c.entity ? [c.entity] : []));
      return [...(then.route.entity ? [then.route.entity] : []), ...(now.route.entity ? [now.route.entity] : []), ...fromChecks, { kind: "customer_override" }, { kind: "route_override" }, { kind: "route" }, { kind: "model_alias" }, { kind: "provider" }, { kind: "price" }];
    }
    case "limits":
      return [...(f.keyId ? [{ kind: "key", id: f.keyId }] : []), { kind: "tenant", id: f.tenant }, { kind: "key" }, { kind: "tenant" }];
    case "guardrails":
      return [{ kind: "guardrails", id: `tenant:${f.tenant}` }, { kind: "guardrails", id: "global" }, { kind: "guardrails" }];
    case "cache":
      return [{ kind: "cache_policy", id: f.tenant }, { kind: "cache_policy" }];
  }
}

/** Pure: the latest history entry (since the request's version) of the first entity that changed. */
function blame(candidates: Array<{ kind: string; id?: string }>, history: readonly HistoryEntry[]): { entity: { kind: string; id: string } | null; history: HistoryEntry | null } {
  for (const c of candidates) {
    const hit = history.filter((h) => h.kind === c.kind && (c.id === undefined || h.id === c.id)).at(-1);
    if (hit) return { entity: { kind: hit.kind, id: hit.id }, history: hit };
  }
  return { entity: null, history: null };
}

const decision = {
  route: (e: Explanation) => ({ level: e.route.level, entity: e.route.entity, strategy: e.route.strategy, targets: e.route.targets, ranking: e.route.ranking }),
  limits: (e: Explanation) => e.limits.specs,
  guardrails: (e: Explanation) => e.guardrails,
  cache: (e: Explanation) => e.cache,
};

/** Pure: explain at the request's version and compare with the current snapshot. */
export function explainRequest(t: Timeline, at: ConfigSnapshot, current: ConfigSnapshot, history: readonly HistoryEntry[]): ExplainResult {
  const f = factsOf(t);
  const then = explainAt(at, f);
  const now = current.version === at.version ? then : explainAt(current, f);
  const changes: ExplainChange[] = [];
  for (const section of ["route", "limits", "guardrails", "cache"] as const) {
    const a = decision[section](then);
    const b = decision[section](now);
    if (same(a, b)) continue;
    changes.push({ section, then: a, now: b, ...blame(entitiesOf(section, then, now, f), history) });
  }
  const reasons = [...then.reasons];
  if (changes.length === 0) reasons.push(current.version === at.version ? "The configuration has not changed since." : `The current configuration (version ${current.version}) would decide the same.`);
  for (const c of changes) {
    const who = c.history ? `${c.entity!.kind} \`${c.entity!.id}\` was ${c.history.type.split(".").pop()} at ${c.history.time} by ${c.history.actor} (config position ${c.history.position}, entity version ${c.history.version})` : "the configuration changed";
    reasons.push(`Today the ${c.section} decision would differ: ${who}; ${sectionDelta(c)}.`);
  }
  return {
    ...then,
    reasons,
    id: t.id,
    tenant: t.tenant,
    recorded: { status: f.status ?? null, error_code: f.errorCode ?? null, route: f.routeSelected ?? null, cache: f.cacheResult ?? null, guardrails: f.guardrails, limit_hit: f.limitHit ?? null },
    current: { config_version: current.version, same: changes.length === 0, changes },
  };
}

function sectionDelta(c: ExplainChange): string {
  if (c.section === "route") {
    const a = c.then as ReturnType<typeof decision.route>;
    const b = c.now as ReturnType<typeof decision.route>;
    return `then ${a.level ?? "none"} → ${a.ranking.join(" > ") || "no target"}, now ${b.level ?? "none"} → ${b.ranking.join(" > ") || "no target"}`;
  }
  return `then ${JSON.stringify(c.then)}, now ${JSON.stringify(c.now)}`;
}
