/**
 * Requests: the request explorer (GET /api/v1/requests, /requests/{id}, /requests/{id}/explain):
 * filters, the list, one request's timeline and why it went as it did. A virtual key sees its tenant.
 */
import { useState } from "preact/hooks";
import { get } from "../api.ts";
import { clean, ErrorBox, Form, type FormValues, ms, num, Page, Table, usd, useLoad } from "../components.tsx";
import type { PageProps } from "./index.ts";

interface Row {
  id: string;
  time: string;
  tenant: string;
  service: string | null;
  user_id: string | null;
  requested_model: string | null;
  model: string | null;
  provider: string | null;
  status: string;
  error_code: string | null;
  tokens: { input: number; output: number };
  cost_usd: number;
  saved_usd: number;
  latency_ms: number;
  attempts: number;
  cache: string;
  route_level: string | null;
  guardrails: { action: string | null; detections: number };
}
interface Timeline {
  id: string;
  tenant: string;
  config_version: number | null;
  phases: Record<string, number>;
  events: Array<{ type: string; time: string; at_ms: number; payload: Record<string, unknown> }>;
}
interface Explanation {
  reasons: string[];
  changed?: unknown;
  [k: string]: unknown;
}

const FILTERS = [
  { name: "days", label: "Last days", type: "number" as const },
  { name: "service", label: "Service" },
  { name: "user_id", label: "Customer" },
  { name: "model", label: "Served model" },
  { name: "provider", label: "Provider" },
  { name: "status", label: "Status", type: "select" as const, options: ["", "ok", "error", "client_disconnected", "rate_limit_exceeded", "budget_exceeded"] },
  { name: "cached", label: "Cache", type: "select" as const, options: ["", "exact", "semantic", "any", "none"] },
  { name: "guardrail_action", label: "Guardrail", type: "select" as const, options: ["", "redacted", "blocked", "detected", "none"] },
  { name: "route_level", label: "Route level", type: "select" as const, options: ["", "override", "default", "customer_service", "customer", "tenant_service", "tenant", "global"] },
];

function Detail({ id }: { id: string }) {
  const timeline = useLoad(() => get<Timeline>(`/api/v1/requests/${encodeURIComponent(id)}`), [id]);
  const explain = useLoad(() => get<Explanation>(`/api/v1/requests/${encodeURIComponent(id)}/explain`), [id]);
  const t = timeline.data;
  return (
    <div class="panel" id="request-detail" data-request={id}>
      <h2>Request {id}</h2>
      <ErrorBox error={timeline.error} />
      {t ? (
        <>
          <p>
            Tenant {t.tenant} · config version {t.config_version ?? "–"} · phases: {Object.entries(t.phases).map(([p, v]) => `${p} ${ms(v)}`).join(", ") || "–"}
          </p>
          <ol class="timeline" aria-label="Timeline">
            {t.events.map((e, i) => (
              <li key={i} data-event={e.type}>
                <span class="at">+{ms(e.at_ms)}</span> <strong>{e.type}</strong> <code>{JSON.stringify(e.payload)}</code>
              </li>
            ))}
          </ol>
        </>
      ) : null}
      <h3>Why</h3>
      <ErrorBox error={explain.error} />
      <ul class="reasons" aria-label="Explanation">
        {(explain.data?.reasons ?? []).map((r, i) => <li key={i}>{r}</li>)}
      </ul>
    </div>
  );
}

export function RequestsPage({ sub }: PageProps) {
  const [filters, setFilters] = useState<FormValues>({ days: "1" });
  const [cursor, setCursor] = useState<string | undefined>();
  const list = useLoad(() => get<{ data: Row[]; next_cursor: string | null }>("/api/v1/requests", { ...(clean(filters) as Record<string, string>), ...(cursor ? { cursor } : {}) }), [JSON.stringify(filters), cursor], cursor ? undefined : 5000);
  const selected = sub[0] ? decodeURIComponent(sub[0]) : undefined;
  return (
    <Page title="Requests" intro="Every request from the analytics store, newest first. Open one for its timeline from the event log and the reasons behind each decision.">
      <details class="panel">
        <summary>Filters</summary>
        <Form
          id="request-filters"
          fields={FILTERS}
          initial={filters}
          label="Apply"
          submit={async (v) => {
            setCursor(undefined);
            setFilters(v);
          }}
        />
      </details>
      <ErrorBox error={list.error} />
      <Table<Row>
        label="Requests"
        rows={list.data?.data ?? []}
        rowKey={(r) => r.id}
        columns={[
          { label: "Time", cell: (r) => new Date(r.time).toLocaleTimeString() },
          { label: "Request", cell: (r) => <a href={`#/requests/${encodeURIComponent(r.id)}`}>{r.id.slice(0, 13)}…</a> },
          { label: "Tenant / service", cell: (r) => `${r.tenant} / ${r.service ?? "(none)"}` },
          { label: "Customer", cell: (r) => r.user_id ?? "–" },
          { label: "Model", cell: (r) => `${r.requested_model ?? "?"} → ${r.provider ?? "?"}/${r.model ?? "?"}` },
          { label: "Status", cell: (r) => <span class={`status-${r.status}`} data-status={r.error_code ?? r.status}>{r.error_code ?? r.status}</span> },
          { label: "Tokens", cell: (r) => `${num(r.tokens.input)} / ${num(r.tokens.output)}` },
          { label: "Cost", cell: (r) => usd(r.cost_usd) },
          { label: "Latency", cell: (r) => ms(r.latency_ms) },
          { label: "Attempts", cell: (r) => String(r.attempts) },
          { label: "Cache", cell: (r) => r.cache },
          { label: "Guardrails", cell: (r) => (r.guardrails.detections ? `${r.guardrails.action ?? "detected"} ×${r.guardrails.detections}` : "–") },
        ]}
        empty={list.loading && !list.data ? "Loading…" : "No requests in this range."}
      />
      <div class="pager">
        {cursor ? <button type="button" onClick={() => setCursor(undefined)}>Newest</button> : null}
        {list.data?.next_cursor ? <button type="button" onClick={() => setCursor(list.data!.next_cursor!)}>Older</button> : null}
      </div>
      {selected ? <Detail id={selected} /> : null}
    </Page>
  );
}
