/** Plugins: status, errors, hook p50/p99, breaker; enable and settings, globally or per tenant, with a form drawn from the plugin's settings schema. */
import { useState } from "preact/hooks";
import { ApiError, api, get } from "../api.ts";
import { ErrorBox, type FieldSpec, Form, type FormValues, Page, Table, useLoad } from "../components.tsx";
import type { PageProps } from "./index.ts";

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  const?: unknown;
  description?: string;
  default?: unknown;
}
interface Plugin {
  name: string;
  version: string;
  description?: string;
  status: string;
  isolation: string;
  enabled: { default: boolean; global: boolean | null; tenants: Array<{ tenant: string; enabled: boolean }> };
  breaker: { state: string };
  last_errors: Array<{ time: string; hook: string; reason: string; error: string; message: string }>;
  timings: Record<string, { p50_ms?: number; p99_ms?: number; calls?: number }>;
  settings_schema: JsonSchema | null;
  settings?: { global: Record<string, unknown> | null };
}
interface Failed {
  name: string;
  reason: string;
}

/** Pure: form fields for a plugin's settings schema (scalars as inputs, enums as selects, the rest as JSON). */
export function settingsFields(schema: JsonSchema | null): Array<FieldSpec & { kind: string }> {
  return Object.entries(schema?.properties ?? {}).map(([name, p]) => {
    const options = p.enum ?? (p.anyOf?.every((x) => x.const !== undefined) ? p.anyOf.map((x) => x.const) : undefined);
    const kind = options ? "select" : p.type === "boolean" ? "checkbox" : p.type === "number" || p.type === "integer" ? "number" : p.type === "string" ? "text" : "json";
    return { name, label: name, help: p.description, kind, type: kind as FieldSpec["type"], ...(options ? { options: options.map(String) } : {}) };
  });
}

function settingsValue(fields: ReturnType<typeof settingsFields>, v: FormValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const x = v[f.name];
    if (x === undefined || x === "") continue;
    if (f.kind === "number") out[f.name] = Number(x);
    else if (f.kind === "checkbox") out[f.name] = x === true;
    else if (f.kind === "json") {
      try {
        out[f.name] = JSON.parse(String(x));
      } catch {
        throw new ApiError(400, "invalid_json", `${f.name}: not valid JSON`, f.name);
      }
    } else out[f.name] = x;
  }
  return out;
}

function Settings({ p, reload }: { p: Plugin; reload: () => void }) {
  const [tenant, setTenant] = useState("");
  const fields = settingsFields(p.settings_schema);
  const current = p.settings?.global ?? {};
  const initial: FormValues = { enabled: tenant ? true : (p.enabled.global ?? p.enabled.default) };
  for (const f of fields) {
    const x = current[f.name] ?? p.settings_schema?.properties?.[f.name]?.default;
    if (x !== undefined) initial[f.name] = f.kind === "checkbox" ? x === true : f.kind === "json" ? JSON.stringify(x) : String(x);
  }
  const path = tenant ? `/api/v1/admin/tenants/${encodeURIComponent(tenant)}/plugins/${encodeURIComponent(p.name)}` : `/api/v1/admin/plugins/${encodeURIComponent(p.name)}`;
  return (
    <details class="panel">
      <summary>Settings of {p.name}</summary>
      <label for={`plugin-${p.name}-tenant`}>Tenant (empty: every tenant)</label>
      <input id={`plugin-${p.name}-tenant`} value={tenant} onChange={(e) => setTenant((e.currentTarget as HTMLInputElement).value.trim())} />
      <Form
        id={`plugin-${p.name}`}
        fields={[{ name: "enabled", label: "Enabled", type: "checkbox" }, ...fields]}
        initial={initial}
        label="Save"
        submit={(v) => api("PUT", path, { enabled: v.enabled === true, settings: settingsValue(fields, v) })}
        onDone={reload}
      />
    </details>
  );
}

export function PluginsPage(_: PageProps) {
  const list = useLoad(() => get<{ data: Plugin[]; failed: Failed[] }>("/api/v1/admin/plugins"), [], 5000);
  const plugins = list.data?.data ?? [];
  return (
    <Page title="Plugins" intro="Operators' plugins from the plugins directory. A plugin that keeps failing is switched off by its breaker.">
      <ErrorBox error={list.error} />
      <Table<Plugin>
        label="Plugins"
        rows={plugins}
        rowKey={(p) => p.name}
        columns={[
          { label: "Plugin", cell: (p) => `${p.name} ${p.version}` },
          { label: "Status", cell: (p) => <span class={`status-${p.status}`}>{p.status}</span> },
          { label: "Isolation", cell: (p) => p.isolation },
          { label: "Enabled", cell: (p) => `${p.enabled.global ?? p.enabled.default ? "yes" : "no"}${p.enabled.tenants.length ? ` (+${p.enabled.tenants.length} tenant settings)` : ""}` },
          { label: "Breaker", cell: (p) => p.breaker.state },
          { label: "Hooks p50 / p99", cell: (p) => Object.entries(p.timings ?? {}).map(([h, t]) => `${h} ${t.p50_ms ?? "–"} / ${t.p99_ms ?? "–"} ms`).join("; ") || "no calls yet" },
          { label: "Last error", cell: (p) => (p.last_errors[0] ? <span class="plugin-error">{`${p.last_errors[0].hook}: ${p.last_errors[0].message}`}</span> : "–") },
        ]}
        empty="No plugins loaded."
      />
      {plugins.map((p) => <Settings key={p.name} p={p} reload={list.reload} />)}
      {list.data?.failed.length ? (
        <>
          <h2>Failed to load</h2>
          <Table label="Failed plugins" rows={list.data.failed} rowKey={(f) => f.name} columns={[{ label: "Plugin", cell: (f) => f.name }, { label: "Reason", cell: (f) => <span class="plugin-error">{f.reason}</span> }]} />
        </>
      ) : null}
    </Page>
  );
}
