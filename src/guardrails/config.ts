/**
 * Guardrails configuration: the entity fields (TypeBox, validated by the config decider), the
 * extra checks a schema cannot express (every blocklist regex compiles under RE2), and the
 * effective policy of a tenant (its settings over the global ones), compiled once per
 * config change, never per request.
 */
import { Type as T, type Static } from "@sinclair/typebox";
import { type BlocklistRule, compileRule, type CompiledRule, ruleProblem } from "./blocklist.ts";
import { DEFAULT_PHONE_OPTIONS, DEFAULT_PHONE_REGIONS, isPhoneRegion, PHONE_CONTEXT_MODES, type PhoneContextMode, type PhoneOptions } from "./phone.ts";
import { PII_TYPES, type PiiType } from "./types.ts";

export const ACTIONS = ["off", "log", "redact", "restore", "block"] as const;
export type Action = (typeof ACTIONS)[number];

const ActionSchema = T.Union(ACTIONS.map((a) => T.Literal(a)), { description: "off | log (event only) | redact | restore | block" });
const TypeSchema = T.Union(PII_TYPES.map((t) => T.Literal(t)));

export const GuardrailsFields = T.Object(
  {
    pii: T.Optional(
      T.Object(
        {
          action: T.Optional(ActionSchema),
          types: T.Optional(T.Array(TypeSchema, { uniqueItems: true, description: `Types the default action applies to (default: all of ${PII_TYPES.join(", ")})` })),
          actions: T.Optional(T.Object(Object.fromEntries(PII_TYPES.map((t) => [t, T.Optional(ActionSchema)])), { additionalProperties: false, description: "Per-type action, over `action`" })),
          allow: T.Optional(T.Array(T.String({ minLength: 1, maxLength: 512 }), { maxItems: 1000, description: "Exact values never reported (case-insensitive)" })),
          phone_regions: T.Optional(T.Array(T.String({ pattern: "^[A-Z]{2}$" }), { uniqueItems: true, maxItems: 250, description: `Regions whose national phone formats are recognised (ISO 3166 alpha-2; default ${DEFAULT_PHONE_REGIONS.join(", ")}); numbers written with + / 00 are recognised for every country` })),
          phone_context: T.Optional(T.Union(PHONE_CONTEXT_MODES.map((m) => T.Literal(m)), { description: "When a national number needs a word like phone/tel/call nearby: `bare` (a digit run without separators, default), `always`, `never`" })),
        },
        { additionalProperties: false },
      ),
    ),
    blocklist: T.Optional(
      T.Array(
        T.Object(
          {
            pattern: T.String({ minLength: 1, maxLength: 1000 }),
            kind: T.Union([T.Literal("term"), T.Literal("regex")]),
            action: T.Union([T.Literal("block"), T.Literal("redact")]),
            direction: T.Union([T.Literal("input"), T.Literal("output"), T.Literal("both")]),
          },
          { additionalProperties: false },
        ),
        { maxItems: 500 },
      ),
    ),
    max_input_chars: T.Optional(T.Integer({ minimum: 1, description: "Refuse requests whose text inputs are longer (400 input_too_large)" })),
    fail_mode: T.Optional(T.Union([T.Literal("closed"), T.Literal("open")], { description: "On a scanner failure: `closed` (503 guardrail_failed, default) or `open` (pass, with an event)" })),
  },
  { additionalProperties: false },
);
export type GuardrailsFields = Static<typeof GuardrailsFields>;

/** Config ids: `global`, or `tenant:<tenant id>`. */
export const GUARDRAILS_ID = /^(global|tenant:[a-z0-9][a-z0-9_-]{0,63})$/;
export const tenantGuardrailsId = (tenant: string) => `tenant:${tenant}`;

/** What a schema cannot check: every blocklist pattern compiles (RE2, non-empty). */
export function guardrailsProblem(f: GuardrailsFields): { param: string; message: string } | undefined {
  for (const [i, r] of (f.pii?.phone_regions ?? []).entries()) {
    if (!isPhoneRegion(r)) return { param: `pii.phone_regions.${i}`, message: `Unknown phone region ${JSON.stringify(r)} (an ISO 3166 alpha-2 code libphonenumber knows, e.g. GB)` };
  }
  for (const [i, rule] of (f.blocklist ?? []).entries()) {
    const problem = ruleProblem(rule as BlocklistRule);
    if (problem) return { param: `blocklist.${i}.pattern`, message: `Invalid blocklist[${i}] pattern: ${problem}` };
  }
  return undefined;
}

/** The policy a request runs under. */
export interface GuardrailPolicy {
  /** Action per type (types set to `off` are absent). */
  actions: ReadonlyMap<PiiType, Action>;
  /** Types to scan for (every type whose action is not `off`). */
  scanTypes: ReadonlySet<PiiType>;
  allow: ReadonlySet<string>;
  rules: readonly CompiledRule[];
  maxInputChars: number | undefined;
  failClosed: boolean;
  /** Phone regions and context rule (compiled once; the detector memoises per this object). */
  phone: PhoneOptions;
  /** The effective settings, as the admin API shows them. */
  effective: GuardrailsFields & { pii: { action: Action; types: PiiType[]; actions: Partial<Record<PiiType, Action>>; allow: string[]; phone_regions?: string[]; phone_context?: PhoneContextMode }; fail_mode: "closed" | "open" };
}

/** The effective settings of one scope: the tenant's fields over the global ones (blocklists and allow lists add up). */
export function effectiveFields(global: GuardrailsFields | undefined, tenant: GuardrailsFields | undefined): GuardrailPolicy["effective"] {
  const g = global ?? {};
  const t = tenant ?? {};
  const out: GuardrailPolicy["effective"] = {
    pii: {
      action: t.pii?.action ?? g.pii?.action ?? "off",
      types: [...(t.pii?.types ?? g.pii?.types ?? PII_TYPES)] as PiiType[],
      actions: { ...(g.pii?.actions ?? {}), ...(t.pii?.actions ?? {}) } as Partial<Record<PiiType, Action>>,
      allow: [...new Set([...(g.pii?.allow ?? []), ...(t.pii?.allow ?? [])])],
    },
    blocklist: [...(g.blocklist ?? []), ...(t.blocklist ?? [])],
    fail_mode: t.fail_mode ?? g.fail_mode ?? "closed",
  };
  const regions = t.pii?.phone_regions ?? g.pii?.phone_regions;
  if (regions) out.pii.phone_regions = [...regions];
  const context = t.pii?.phone_context ?? g.pii?.phone_context;
  if (context) out.pii.phone_context = context;
  const max = t.max_input_chars ?? g.max_input_chars;
  if (max !== undefined) out.max_input_chars = max;
  return out;
}

/** Compile the effective settings into a policy (regexes compiled once). */
export function compilePolicy(effective: GuardrailPolicy["effective"]): GuardrailPolicy {
  const actions = new Map<PiiType, Action>();
  for (const type of PII_TYPES) {
    const a = effective.pii.actions[type] ?? (effective.pii.types.includes(type) ? effective.pii.action : "off");
    if (a !== "off") actions.set(type, a);
  }
  return {
    actions,
    scanTypes: new Set(actions.keys()),
    allow: new Set(effective.pii.allow.map((v) => v.toLowerCase())),
    rules: (effective.blocklist ?? []).map((r, i) => compileRule(r as BlocklistRule, i)),
    maxInputChars: effective.max_input_chars,
    failClosed: effective.fail_mode !== "open",
    phone: phoneOptions(effective.pii),
    effective,
  };
}

function phoneOptions(pii: { phone_regions?: string[]; phone_context?: PhoneContextMode }): PhoneOptions {
  if (!pii.phone_regions && !pii.phone_context) return DEFAULT_PHONE_OPTIONS;
  return { regions: (pii.phone_regions ?? DEFAULT_PHONE_REGIONS).filter(isPhoneRegion), context: pii.phone_context ?? "bare" };
}

/** Policies by tenant, built at each config change. */
export interface GuardrailsSnapshot {
  global: GuardrailPolicy;
  tenants: Record<string, GuardrailPolicy>;
}

/** Build the snapshot from the config entities (`global` and `tenant:<id>`). */
export function guardrailsSnapshot(entities: Record<string, { fields: GuardrailsFields }>): GuardrailsSnapshot {
  const global = entities.global?.fields;
  const tenants: Record<string, GuardrailPolicy> = {};
  for (const [id, e] of Object.entries(entities)) {
    if (id.startsWith("tenant:")) tenants[id.slice(7)] = compilePolicy(effectiveFields(global, e.fields));
  }
  return { global: compilePolicy(effectiveFields(global, undefined)), tenants };
}

/** The policy for a tenant (off when nothing is configured). */
export function policyFor(snap: GuardrailsSnapshot | undefined, tenant: string): GuardrailPolicy | undefined {
  if (!snap) return undefined;
  return snap.tenants[tenant] ?? snap.global;
}

/** True when the policy does nothing at all (the plugin then skips the request). */
export function isIdle(p: GuardrailPolicy | undefined): boolean {
  return !p || (p.scanTypes.size === 0 && p.rules.length === 0 && p.maxInputChars === undefined);
}
