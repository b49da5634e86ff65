/**
 * Plugin settings in the config: entity kind `plugin`, id `<name>` (global) or
 * `<tenant>/<name>` (one tenant). Pure: fields schema and the snapshot view.
 */
import { Type as T, type Static, type TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { GatewayError } from "../../pipeline/errors.ts";
import type { ConfigState } from "./model.ts";

export const PluginFields = T.Object(
  {
    enabled: T.Optional(T.Boolean({ description: "On or off (tenant scope overrides global, global overrides the manifest's default)" })),
    settings: T.Optional(T.Record(T.String(), T.Unknown(), { description: "Validated against the plugin's settings schema" })),
    order: T.Optional(T.Integer({ minimum: -1000, maximum: 1000, description: "Global only: lower runs first (before/after hints still apply)" })),
    timeout_ms: T.Optional(T.Integer({ minimum: 1, maximum: 60_000, description: "Global only: per-hook timeout, overrides the manifest" })),
  },
  { additionalProperties: false },
);
export type PluginFields = Static<typeof PluginFields>;

export const PLUGIN_ID = /^([a-z0-9][a-z0-9_-]{0,63}\/)?[a-z0-9][a-z0-9_-]{0,63}$/;

export interface PluginScope {
  enabled?: boolean;
  settings?: Record<string, unknown>;
  order?: number;
  timeoutMs?: number;
}
export interface PluginsSnapshot {
  global: Record<string, PluginScope>;
  /** tenant → plugin → scope */
  tenant: Record<string, Record<string, PluginScope>>;
}

const scope = (f: PluginFields): PluginScope => ({
  ...(f.enabled !== undefined ? { enabled: f.enabled } : {}),
  ...(f.settings ? { settings: f.settings } : {}),
  ...(f.order !== undefined ? { order: f.order } : {}),
  ...(f.timeout_ms !== undefined ? { timeoutMs: f.timeout_ms } : {}),
});

export function pluginsSnapshot(state: ConfigState): PluginsSnapshot {
  const out: PluginsSnapshot = { global: {}, tenant: {} };
  for (const e of Object.values(state.entities.plugin ?? {})) {
    const [a, b] = e.id.split("/");
    if (b === undefined) out.global[a!] = scope(e.fields);
    else (out.tenant[a!] ??= {})[b] = scope(e.fields);
  }
  return out;
}

/** Settings a plugin runs with for a tenant: defaults ← global ← tenant (shallow merge). */
export function effectiveSettings(defaults: Record<string, unknown>, snap: PluginsSnapshot | undefined, plugin: string, tenant: string | undefined): Record<string, unknown> {
  return { ...defaults, ...snap?.global[plugin]?.settings, ...(tenant ? snap?.tenant[tenant]?.[plugin]?.settings : undefined) };
}

/** Whether a plugin runs for a tenant: tenant scope ← global ← manifest default. */
export function enabledFor(defaultEnabled: boolean, snap: PluginsSnapshot | undefined, plugin: string, tenant: string): boolean {
  return snap?.tenant[tenant]?.[plugin]?.enabled ?? snap?.global[plugin]?.enabled ?? defaultEnabled;
}

/** What the decider knows of the loaded plugins: their settings schema and defaults. */
export interface PluginCatalogEntry {
  schema?: TSchema;
  defaults: Record<string, unknown>;
}
export type PluginCatalog = ReadonlyMap<string, PluginCatalogEntry>;

const bad = (message: string, param: string, code = "invalid_config") => new GatewayError({ status: 400, code, message, param });

/**
 * Check a plugin entity against the loaded plugins: the plugin exists; `order` and `timeout_ms`
 * are global; the settings (merged over defaults and, for a tenant, the global settings) match
 * the plugin's schema. Throws a 400 with `param` (e.g. `settings.max_usd`).
 */
export function checkPlugin(state: ConfigState, catalog: PluginCatalog | undefined, id: string, fields: PluginFields): void {
  const [a, b] = id.split("/");
  const name = b ?? a!;
  const entry = catalog?.get(name);
  if (!entry) throw bad(`Unknown plugin \`${name}\` (not loaded on this gateway)`, "name", "unknown_plugin");
  if (b !== undefined) {
    if (fields.order !== undefined) throw bad("`order` is set globally, not per tenant", "order");
    if (fields.timeout_ms !== undefined) throw bad("`timeout_ms` is set globally, not per tenant", "timeout_ms");
  }
  if (!entry.schema) {
    if (fields.settings && Object.keys(fields.settings).length) throw bad(`Plugin \`${name}\` takes no settings`, "settings");
    return;
  }
  const global = b !== undefined ? (state.entities.plugin?.[name]?.fields.settings ?? {}) : {};
  const merged = { ...entry.defaults, ...global, ...fields.settings };
  const first = [...Value.Errors(entry.schema, merged)][0];
  if (first) {
    const path = first.path.replace(/^\//, "").replace(/\//g, ".");
    throw bad(`Invalid settings for plugin \`${name}\`${path ? ` \`${path}\`` : ""}: ${first.message}`, path ? `settings.${path}` : "settings");
  }
}
