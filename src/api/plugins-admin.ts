/**
 * Admin API for operators' plugins (admin key required):
 *  - GET /api/v1/admin/plugins: every plugin with version, status, enabled scopes, last errors,
 *    hook timings (p50/p99) and breaker state; plugins that failed to load, with the reason.
 *  - PUT /api/v1/admin/plugins/{name}: global settings (enabled, settings, order, timeout_ms).
 *  - PUT /api/v1/admin/tenants/{id}/plugins/{name}: one tenant (enabled, settings).
 * Every PUT is a config command (`plugin.created|updated` on the `config` stream): history and
 * time travel come with it. Settings are validated against the plugin's schema by the decider.
 */
import { Elysia } from "elysia";
import { Type as T } from "@sinclair/typebox";
import { GatewayError } from "../pipeline/errors.ts";
import type { PluginHost } from "../pipeline/operator/host.ts";
import type { ConfigCommand, Entity } from "../projections/config/model.ts";
import { PluginFields, pluginsSnapshot } from "../projections/config/plugins.ts";
import { type AdminDeps, asAdmin } from "./admin.ts";
import { errorResponses, jsonContent } from "./schemas.ts";
import { ADMIN_SECURITY } from "./schemas.ts";

const Slug = T.String({ pattern: "^[a-z0-9][a-z0-9_-]{0,63}$", description: "Lower-case slug" });
const TenantPluginBody = T.Object(
  { enabled: PluginFields.properties.enabled, settings: PluginFields.properties.settings },
  { additionalProperties: false },
);

const PluginScopeView = T.Object({
  id: T.String(),
  enabled: T.Optional(T.Boolean()),
  settings: T.Optional(T.Record(T.String(), T.Unknown())),
  order: T.Optional(T.Integer()),
  timeout_ms: T.Optional(T.Integer()),
  version: T.Integer(),
  updated_at: T.String(),
  updated_by: T.String(),
  config_version: T.Integer(),
});
const PluginList = T.Object({
  object: T.Literal("list"),
  data: T.Array(T.Record(T.String(), T.Unknown()), { description: "Loaded plugins, in the order they run (single-file plugins last)" }),
  failed: T.Array(T.Object({ name: T.String(), source: T.String(), status: T.Literal("failed"), reason: T.String(), time: T.String() })),
  config_version: T.Integer(),
});

export function pluginAdminRoutes(deps: AdminDeps & { plugins: PluginHost }) {
  const handle = (request: Request, fn: (actor: string) => Promise<Response> | Response) => asAdmin(deps, request, fn);
  /** PUT = set the scope to exactly the body (create, or update with absent fields cleared). */
  const put = (request: Request, id: string, body: Record<string, unknown>) =>
    handle(request, async (actor) => {
      const name = id.split("/").at(-1)!;
      if (!deps.plugins.runtimes.has(name)) throw new GatewayError({ status: 404, code: "not_found", message: `plugin \`${name}\` is not loaded on this gateway` });
      const existing = deps.config.state.entities.plugin[id] as Entity<"plugin"> | undefined;
      const cmd: ConfigCommand = existing
        ? { type: "update", kind: "plugin", id, changes: Object.fromEntries(["enabled", "settings", "order", "timeout_ms"].map((k) => [k, body[k] ?? null])) }
        : { type: "create", kind: "plugin", id, fields: body };
      const result = await deps.config.execute(cmd, actor);
      const e = deps.config.state.entities.plugin[id]!;
      return Response.json({ id, ...e.fields, version: e.version, updated_at: e.updatedAt, updated_by: e.updatedBy, config_version: result.version }, { status: existing ? 200 : 201 });
    });
  const errors = errorResponses({ 400: "Invalid settings (code `invalid_config`, `param` names the field)", 401: "Admin key missing or wrong", 403: "Admin API disabled", 404: "No such plugin loaded" });
  const ok = (d: string) => ({ 200: { description: d, content: jsonContent(PluginScopeView) }, 201: { description: `${d} (first time)`, content: jsonContent(PluginScopeView) } });
  return new Elysia({ name: "admin-plugins", normalize: false })
    .get(
      "/api/v1/admin/plugins",
      ({ request }) =>
        handle(request, () => {
          const live = deps.config.state;
          const { plugins, failed } = deps.plugins.list(pluginsSnapshot(live));
          return Response.json({ object: "list", data: plugins, failed, config_version: live.version });
        }),
      { detail: { security: ADMIN_SECURITY, tags: ["Plugins"], summary: "List operators' plugins: status, scopes, errors, timings, breaker", responses: { 200: { description: "Plugins", content: jsonContent(PluginList) }, ...errorResponses({ 401: "Admin key missing or wrong", 403: "Admin API disabled" }) } } },
    )
    .put("/api/v1/admin/plugins/:name", ({ request, params, body }) => put(request, params.name, body as Record<string, unknown>), {
      params: T.Object({ name: Slug }),
      body: PluginFields,
      detail: { security: ADMIN_SECURITY, tags: ["Plugins"], summary: "Configure a plugin for every tenant (enabled, settings, order, timeout_ms)", responses: { ...ok("The plugin's global settings"), ...errors } },
    })
    .put("/api/v1/admin/tenants/:id/plugins/:name", ({ request, params, body }) => put(request, `${params.id}/${params.name}`, body as Record<string, unknown>), {
      params: T.Object({ id: Slug, name: Slug }),
      body: TenantPluginBody,
      detail: { security: ADMIN_SECURITY, tags: ["Plugins"], summary: "Configure a plugin for one tenant (enabled, settings)", responses: { ...ok("The plugin's settings for this tenant"), ...errors } },
    });
}
