/**
 * Admin API for guardrails (config entity `guardrails`, ids `global` and `tenant:<id>`):
 *
 *   PUT /api/v1/admin/guardrails                 the global settings (replaces them)
 *   GET /api/v1/admin/guardrails                 the global settings and the effective policy
 *   PUT /api/v1/admin/tenants/{id}/guardrails    one tenant's settings (over the global ones)
 *   GET /api/v1/admin/tenants/{id}/guardrails    the tenant's settings and its effective policy
 *   POST /api/v1/admin/guardrails/test           dry run: what the policy (global, or a tenant's) does to a
 *                                                sentence — nothing is recorded (no event, no log, no metric)
 *
 * Every change is a command → events on the `config` stream (history and `?at=` views come
 * with it). An invalid body is a 400 with `param`, and nothing is appended.
 */
import { Elysia } from "elysia";
import { Type as T } from "@sinclair/typebox";
import { compilePolicy, effectiveFields, GuardrailsFields, tenantGuardrailsId } from "../guardrails/config.ts";
import { Redactor } from "../guardrails/redact.ts";
import { GatewayError } from "../pipeline/errors.ts";
import type { ConfigCommand, Entity } from "../projections/config/model.ts";
import { type AdminDeps, asAdmin } from "./admin.ts";
import { errorResponses, jsonContent } from "./schemas.ts";
import { ADMIN_SECURITY } from "./schemas.ts";

export const GuardrailsView = T.Object({
  id: T.String({ description: "`global` or `tenant:<id>`" }),
  configured: T.Union([GuardrailsFields, T.Null()], { description: "The settings stored at this scope (null: none)" }),
  effective: T.Record(T.String(), T.Unknown(), { description: "What requests run under: the tenant's settings over the global ones" }),
  version: T.Integer({ minimum: 0, description: "Entity version (0: never set)" }),
  config_version: T.Integer({ minimum: 0 }),
});

const FIELD_NAMES = ["pii", "blocklist", "max_input_chars", "fail_mode"] as const;

export function guardrailsRoutes(deps: AdminDeps) {
  const entity = (id: string) => deps.config.state.entities.guardrails[id] as Entity<"guardrails"> | undefined;
  const view = (id: string) => {
    const e = entity(id);
    const global = entity("global")?.fields;
    const eff = id === "global" ? effectiveFields(global, undefined) : effectiveFields(global, e?.fields);
    return { id, configured: e?.fields ?? null, effective: eff, version: e?.version ?? 0, config_version: deps.config.state.version };
  };
  const handle = (request: Request, fn: (actor: string) => Promise<unknown> | unknown) => asAdmin(deps, request, async (actor) => Response.json(await fn(actor)));
  const needTenant = (id: string) => {
    if (!deps.config.state.entities.tenant[id]) throw new GatewayError({ status: 404, code: "not_found", message: `tenant \`${id}\` does not exist` });
  };
  const put = async (id: string, body: Record<string, unknown>, actor: string) => {
    const existing = entity(id);
    const fields = Object.fromEntries(FIELD_NAMES.filter((k) => body[k] !== undefined).map((k) => [k, body[k]]));
    const cmd: ConfigCommand = existing
      ? { type: "update", kind: "guardrails", id, changes: Object.fromEntries(FIELD_NAMES.map((k) => [k, fields[k] ?? null])) }
      : { type: "create", kind: "guardrails", id, fields };
    await deps.config.execute(cmd, actor);
    return view(id);
  };
  const detail = (summary: string, description: string) => ({
    security: ADMIN_SECURITY,
    tags: ["Admin: guardrails"],
    summary,
    description,
    responses: {
      200: { description: "The stored and the effective settings", content: jsonContent(GuardrailsView) },
      ...errorResponses({ 400: "Invalid settings (`invalid_request`, `invalid_config` with `param`; e.g. a blocklist regex RE2 refuses)", 401: "Admin key missing or wrong", 403: "Admin API disabled", 404: "No such tenant", 409: "Version conflict" }),
    },
  });
  const TenantParams = T.Object({ id: T.String({ minLength: 1, maxLength: 64 }) });

  return new Elysia({ name: "admin-guardrails", normalize: false })
    .get("/api/v1/admin/guardrails", ({ request }) => handle(request, () => view("global")), {
      detail: detail("Global guardrail settings", "The settings every tenant inherits, and the effective policy of a tenant without its own."),
    })
    .put("/api/v1/admin/guardrails", ({ request, body }) => handle(request, (actor) => put("global", body as Record<string, unknown>, actor)), {
      body: GuardrailsFields,
      detail: detail("Set the global guardrail settings", "Replaces the global settings: `{ pii: { action, types, actions, allow }, blocklist: [{ pattern, kind, action, direction }], max_input_chars, fail_mode }`. Default: off."),
    })
    .get("/api/v1/admin/tenants/:id/guardrails", ({ request, params }) => handle(request, () => {
      const id = decodeURIComponent(params.id);
      needTenant(id);
      return view(tenantGuardrailsId(id));
    }), { params: TenantParams, detail: detail("A tenant's guardrail settings", "The tenant's own settings and the effective policy (its settings over the global ones).") })
    .put("/api/v1/admin/tenants/:id/guardrails", ({ request, params, body }) => handle(request, (actor) => {
      const id = decodeURIComponent(params.id);
      needTenant(id);
      return put(tenantGuardrailsId(id), body as Record<string, unknown>, actor);
    }), { params: TenantParams, body: GuardrailsFields, detail: detail("Set a tenant's guardrail settings", "Replaces the tenant's settings; fields it leaves out come from the global settings (blocklists and allow lists add up).") })
    .post("/api/v1/admin/guardrails/test", ({ request, body }) => handle(request, () => {
      const { text, tenant } = body;
      if (tenant !== undefined) needTenant(tenant);
      const global = entity("global")?.fields;
      const policy = compilePolicy(effectiveFields(global, tenant === undefined ? undefined : entity(tenantGuardrailsId(tenant))?.fields));
      return dryRun(policy, text);
    }), {
      body: T.Object({ text: T.String({ maxLength: 100_000, description: "A sentence to try" }), tenant: T.Optional(T.String({ minLength: 1, maxLength: 64, description: "Use this tenant's effective policy (default: the global one)" })) }, { additionalProperties: false }),
      detail: {
        security: ADMIN_SECURITY,
        tags: ["Admin: guardrails"],
        summary: "Try a sentence: what the effective policy would redact or block (records nothing)",
        responses: {
          200: { description: "The text as a provider would receive it, and the detections by type", content: jsonContent(DryRunView) },
          ...errorResponses({ 400: "Invalid body", 401: "Admin key missing or wrong", 403: "Admin API disabled", 404: "No such tenant" }),
        },
      },
    });
}

const DryRunView = T.Object({
  text: T.String({ description: "The text after the input guardrails (placeholders for redacted values)" }),
  blocked: T.Boolean(),
  blocked_types: T.Array(T.String()),
  detected: T.Record(T.String(), T.Integer()),
  redacted: T.Record(T.String(), T.Integer()),
  actions: T.Record(T.String(), T.String(), { description: "The action in force per PII type" }),
});

/** Pure: run a compiled policy over one text, as the input guardrail would (the redactor lives only here). */
export function dryRun(policy: ReturnType<typeof compilePolicy>, text: string) {
  const r = new Redactor(policy);
  const out = r.process(text, "input");
  return {
    text: out.text,
    blocked: r.blocked.input.size > 0,
    blocked_types: [...r.blocked.input],
    detected: r.detected.input,
    redacted: r.redacted.input,
    actions: Object.fromEntries(policy.actions),
  };
}
