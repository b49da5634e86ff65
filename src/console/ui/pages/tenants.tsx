/**
 * Tenants & keys: create tenants; issue keys (the secret shown once, with a copy button), rotate,
 * revoke; RPM/TPM limits; budgets with spent/remaining bars. A virtual key sees its own key and
 * tenant, read-only (GET /api/v1/keys/self).
 */
import { useState } from "preact/hooks";
import { api, get } from "../api.ts";
import { ActionButton, BudgetBar, CopyButton, ErrorBox, Form, type FormValues, num, Page, Table, useLoad } from "../components.tsx";
import { EntityCollection } from "./entity.tsx";
import type { PageProps } from "./index.ts";

interface Tenant {
  id: string;
  name: string;
  rpm_limit?: number;
  tpm_limit?: number;
  budget?: { amount_usd: number; period: string };
  enabled: boolean;
}
interface Key {
  id: string;
  tenant_id: string;
  name?: string;
  prefix: string;
  service?: string;
  rpm_limit?: number;
  tpm_limit?: number;
  budget?: { amount_usd: number; period: string };
  status: string;
}
interface Budget {
  scope: string;
  id: string;
  period: string;
  limit_usd: number;
  spent_usd: number;
  remaining_usd: number;
}

/** Limits and budget fields of a tenant or key form → body (an empty field on edit removes it). */
function limitsBody(v: FormValues, mode: "create" | "edit"): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ["rpm_limit", "tpm_limit"] as const) {
    if (typeof v[k] === "string" && v[k] !== "") out[k] = Number(v[k]);
    else if (mode === "edit") out[k] = null;
  }
  if (typeof v.budget_usd === "string" && v.budget_usd !== "") out.budget = { amount_usd: Number(v.budget_usd), period: v.budget_period || "month" };
  else if (mode === "edit") out.budget = null;
  return out;
}
const limitFields = [
  { name: "rpm_limit", label: "Requests per minute", type: "number" as const },
  { name: "tpm_limit", label: "Tokens per minute", type: "number" as const },
  { name: "budget_usd", label: "Budget (USD)", type: "number" as const },
  { name: "budget_period", label: "Budget period", type: "select" as const, options: ["month", "day"] },
];
const limitsForm = (x: { rpm_limit?: number; tpm_limit?: number; budget?: { amount_usd: number; period: string } }): FormValues => ({ rpm_limit: x.rpm_limit ? String(x.rpm_limit) : "", tpm_limit: x.tpm_limit ? String(x.tpm_limit) : "", budget_usd: x.budget ? String(x.budget.amount_usd) : "", budget_period: x.budget?.period ?? "month" });
const limitsText = (x: { rpm_limit?: number; tpm_limit?: number }) => [x.rpm_limit ? `${num(x.rpm_limit)} RPM` : "", x.tpm_limit ? `${num(x.tpm_limit)} TPM` : ""].filter(Boolean).join(" · ") || "none";

function NewSecret({ secret, onClose }: { secret: string; onClose: () => void }) {
  return (
    <div class="secret" role="status">
      <p>The key, shown this once: copy it now.</p>
      <code id="new-key">{secret}</code>
      <CopyButton text={secret} />
      <button type="button" onClick={onClose}>Done</button>
    </div>
  );
}

function Keys({ budgets, reloadBudgets }: { budgets: Budget[]; reloadBudgets: () => void }) {
  const [tenant, setTenant] = useState("");
  const keys = useLoad(() => get<{ data: Key[] }>("/api/v1/admin/keys", tenant ? { tenant_id: tenant } : {}), [tenant]);
  const [secret, setSecret] = useState<string | undefined>();
  const [editing, setEditing] = useState<string | undefined>();
  const reload = () => {
    keys.reload();
    reloadBudgets();
  };
  const current = keys.data?.data.find((k) => k.id === editing);
  return (
    <div class="collection" data-collection="keys">
      <label for="keys-tenant">Tenant filter</label>
      <input id="keys-tenant" value={tenant} onInput={(e) => setTenant((e.currentTarget as HTMLInputElement).value)} placeholder="all tenants" />
      {secret ? <NewSecret secret={secret} onClose={() => setSecret(undefined)} /> : null}
      <ErrorBox error={keys.error} />
      <Table<Key>
        label="Keys"
        rows={keys.data?.data ?? []}
        rowKey={(k) => k.id}
        columns={[
          { label: "Key", cell: (k) => `${k.prefix}… ${k.name ?? ""}` },
          { label: "Tenant", cell: (k) => k.tenant_id },
          { label: "Service", cell: (k) => k.service ?? "–" },
          { label: "Status", cell: (k) => <span class={`status-${k.status}`}>{k.status}</span> },
          { label: "Limits", cell: (k) => limitsText(k) },
          { label: "Budget", cell: (k) => budgetCell(budgets, "key", k.id) },
          {
            label: "Actions",
            cell: (k) =>
              k.status === "revoked" ? (
                "–"
              ) : (
                <span class="row-actions">
                  <button type="button" onClick={() => setEditing(editing === k.id ? undefined : k.id)}>Limits</button>
                  <ActionButton label="Rotate" act={async () => setSecret((await api<{ key: string }>("POST", `/api/v1/admin/keys/${encodeURIComponent(k.id)}/rotate`, {})).key)} onDone={reload} />
                  <ActionButton label="Revoke" kind="danger" confirmText={`Revoke ${k.prefix}…? Every instance refuses it within a second.`} act={() => api("DELETE", `/api/v1/admin/keys/${encodeURIComponent(k.id)}`)} onDone={reload} />
                </span>
              ),
          },
        ]}
      />
      {current ? (
        <details open class="panel">
          <summary>Limits of {current.prefix}…</summary>
          <Form id="key-edit" fields={limitFields} initial={limitsForm(current)} label="Save" submit={(v) => api("PATCH", `/api/v1/admin/keys/${encodeURIComponent(current.id)}`, limitsBody(v, "edit"))} onDone={() => { setEditing(undefined); reload(); }} />
        </details>
      ) : null}
      <details class="panel" open>
        <summary>Issue a key</summary>
        <Form
          id="key-create"
          fields={[
            { name: "tenant_id", label: "Tenant", required: true },
            { name: "name", label: "Name" },
            { name: "service", label: "Service" },
            ...limitFields,
          ]}
          initial={{ budget_period: "month" }}
          label="Issue key"
          submit={async (v) => {
            const body = { tenant_id: v.tenant_id, ...(v.name ? { name: v.name } : {}), ...(v.service ? { service: v.service } : {}), ...limitsBody(v, "create") };
            return api<{ key: string }>("POST", "/api/v1/admin/keys", body);
          }}
          onDone={(r) => {
            setSecret((r as { key: string }).key);
            reload();
          }}
        />
      </details>
    </div>
  );
}

function budgetCell(budgets: Budget[], scope: string, id: string) {
  const b = budgets.find((x) => x.scope === scope && x.id === id);
  return b ? <BudgetBar label={`Budget of ${scope} ${id}`} spent={b.spent_usd} limit={b.limit_usd} /> : "–";
}

interface Self {
  tenant_id: string;
  key: { prefix: string; name: string | null; service: string | null } | null;
  limits: { key: { rpm_limit: number | null; tpm_limit: number | null } | null; tenant: { rpm_limit: number | null; tpm_limit: number | null } | null };
  budgets: Array<{ scope: string; period: string; limit_usd: number; spent_usd: number; remaining_usd: number }>;
  rate_limits: Array<{ scope: string; kind: string; limit: number; remaining: number }>;
}

function TenantView() {
  const self = useLoad(() => get<Self>("/api/v1/keys/self"), [], 5000);
  const s = self.data;
  return (
    <Page title="My key" intro="Your key and tenant, read-only.">
      <ErrorBox error={self.error} />
      {s ? (
        <div class="panel">
          <p>
            Tenant <strong>{s.tenant_id}</strong> · key <code>{s.key?.prefix ?? ""}…</code> {s.key?.name ?? ""} {s.key?.service ? `· service ${s.key.service}` : ""}
          </p>
          <Table label="Rate limits" rows={s.rate_limits} rowKey={(r) => `${r.scope}:${r.kind}`} columns={[{ label: "Scope", cell: (r) => r.scope }, { label: "Kind", cell: (r) => r.kind }, { label: "Limit", cell: (r) => num(r.limit) }, { label: "Remaining", cell: (r) => num(r.remaining) }]} empty="No rate limits." />
          {s.budgets.map((b) => (
            <div key={b.scope}>
              <h2>{b.scope} budget ({b.period})</h2>
              <BudgetBar label={`Budget of the ${b.scope}`} spent={b.spent_usd} limit={b.limit_usd} />
            </div>
          ))}
        </div>
      ) : null}
    </Page>
  );
}

export function TenantsPage({ who }: PageProps) {
  const budgets = useLoad(() => (who.kind === "admin" ? get<{ data: Budget[] }>("/api/v1/admin/budgets") : Promise.resolve({ data: [] })), [who.kind], 5000);
  if (who.kind !== "admin") return <TenantView />;
  const list = budgets.data?.data ?? [];
  return (
    <Page title="Tenants & keys">
      <h2>Tenants</h2>
      <EntityCollection<Tenant>
        spec={{
          base: "/api/v1/admin/tenants",
          noun: "tenant",
          slug: "tenants",
          columns: [
            { label: "Id", cell: (t) => t.id },
            { label: "Name", cell: (t) => t.name },
            { label: "Enabled", cell: (t) => (t.enabled ? "yes" : "no") },
            { label: "Limits", cell: (t) => limitsText(t) },
            { label: "Budget", cell: (t) => budgetCell(list, "tenant", t.id) },
          ],
          create: [{ name: "id", label: "Id", placeholder: "acme" }, { name: "name", label: "Name", required: true }, ...limitFields],
          createInitial: { budget_period: "month" },
          edit: [{ name: "name", label: "Name", required: true }, { name: "enabled", label: "Enabled", type: "checkbox" }, ...limitFields],
          toBody: (v, mode) => ({ ...(mode === "create" && v.id ? { id: v.id } : {}), ...(v.name ? { name: v.name } : {}), ...(mode === "edit" ? { enabled: v.enabled === true } : {}), ...limitsBody(v, mode) }),
          toForm: (t) => ({ name: t.name, enabled: t.enabled, ...limitsForm(t) }),
        }}
      />
      <h2>Keys</h2>
      <Keys budgets={list} reloadBudgets={budgets.reload} />
    </Page>
  );
}
