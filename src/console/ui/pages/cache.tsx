/** Cache: policy globally and per tenant, stats, purge, semantic threshold. */
import { useState } from "preact/hooks";
import { api, get } from "../api.ts";
import { ActionButton, ErrorBox, Form, type FormValues, num, Page, pct, Stat, usd, useLoad } from "../components.tsx";
import type { PageProps } from "./index.ts";

interface Policy {
  id: string;
  policy: { mode?: string; ttl_seconds?: number; scope?: string; semantic?: { enabled: boolean; embeddings_model?: string; threshold?: number } };
  effective: { mode: string; ttl_seconds: number; scope: string; semantic: { embeddings_model: string; threshold: number } | null };
}
interface Stats {
  hits: number;
  misses: number;
  hit_rate: number;
  entries: number;
  bytes: number;
  saved_usd: number;
}

function body(v: FormValues): Record<string, unknown> {
  const out: Record<string, unknown> = { mode: v.mode };
  if (v.ttl_seconds !== "" && v.ttl_seconds !== undefined) out.ttl_seconds = Number(v.ttl_seconds);
  if (v.scope) out.scope = v.scope;
  if (v.semantic === true) out.semantic = { enabled: true, ...(v.embeddings_model ? { embeddings_model: v.embeddings_model } : {}), ...(v.threshold ? { threshold: Number(v.threshold) } : {}) };
  return out;
}

export function CachePage({ who }: PageProps) {
  const admin = who.kind === "admin";
  const [tenant, setTenant] = useState("");
  const path = tenant ? `/api/v1/admin/tenants/${encodeURIComponent(tenant)}/cache` : "/api/v1/admin/cache";
  const policy = useLoad(() => (admin ? get<Policy>(path) : Promise.resolve(undefined)), [path, admin]);
  const stats = useLoad(() => get<Stats>("/v1/cache/stats", tenant ? { tenant_id: tenant } : {}), [tenant], 5000);
  const s = stats.data;
  const p = policy.data;
  return (
    <Page title="Cache" intro="Exact cache (on by default for deterministic requests) and the semantic tier.">
      {admin ? (
        <>
          <label for="cache-tenant">Scope: tenant id (empty: global)</label>
          <input id="cache-tenant" value={tenant} onChange={(e) => setTenant((e.currentTarget as HTMLInputElement).value.trim())} placeholder="global" />
        </>
      ) : null}
      <ErrorBox error={stats.error} />
      <div class="stats">
        <Stat id="hits" label="Hits" value={num(s?.hits)} />
        <Stat id="misses" label="Misses" value={num(s?.misses)} />
        <Stat id="hit-rate" label="Hit rate" value={pct(s?.hit_rate)} />
        <Stat id="entries" label="Entries" value={num(s?.entries)} />
        <Stat id="saved" label="Saved" value={usd(s?.saved_usd)} />
      </div>
      {admin ? (
        <>
          <ActionButton label={tenant ? `Purge tenant ${tenant}` : "Purge every entry"} kind="danger" confirmText="Purge the cache?" act={() => api("DELETE", "/v1/cache", undefined, tenant ? { tenant_id: tenant } : {})} onDone={stats.reload} />
          <ErrorBox error={policy.error} />
          {p ? (
            <div class="panel">
              <p>
                In force: mode <strong>{p.effective.mode}</strong>, ttl {p.effective.ttl_seconds} s, scope {p.effective.scope}
                {p.effective.semantic ? `, semantic via ${p.effective.semantic.embeddings_model} at ${p.effective.semantic.threshold}` : ", semantic off"}
              </p>
              <Form
                id="cache-policy"
                fields={[
                  { name: "mode", label: "Mode", type: "select", options: ["deterministic", "all", "off"] },
                  { name: "ttl_seconds", label: "TTL (seconds)", type: "number" },
                  { name: "scope", label: "Scope", type: "select", options: ["tenant", "key"] },
                  { name: "semantic", label: "Semantic tier", type: "checkbox" },
                  { name: "embeddings_model", label: "Embeddings model" },
                  { name: "threshold", label: "Semantic threshold (0–1)", type: "number" },
                ]}
                initial={{ mode: p.policy.mode ?? p.effective.mode, ttl_seconds: String(p.policy.ttl_seconds ?? p.effective.ttl_seconds), scope: p.policy.scope ?? p.effective.scope, semantic: p.policy.semantic?.enabled === true, embeddings_model: p.policy.semantic?.embeddings_model ?? "", threshold: p.policy.semantic?.threshold === undefined ? "" : String(p.policy.semantic.threshold) }}
                label="Save policy"
                submit={(v) => api("PUT", path, body(v))}
                onDone={policy.reload}
              />
            </div>
          ) : null}
        </>
      ) : null}
    </Page>
  );
}
