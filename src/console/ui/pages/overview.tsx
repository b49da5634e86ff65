/** Overview: live numbers (polled every 5 s), provider health and breakers, top services, customers, models. */
import { get } from "../api.ts";
import { type Column, ErrorBox, ms, num, Page, pct, Stat, Table, usd, useLoad } from "../components.tsx";
import type { PageProps } from "./index.ts";

interface Metrics {
  requests: number;
  cost_usd: number;
  saved_usd?: number;
  cache_hit_rate: number;
  error_rate: number;
  p95_ms: number;
}
interface Grouped extends Metrics {
  [k: string]: unknown;
}
interface ProviderHealth {
  id: string;
  kind?: string;
  state?: string;
  targets?: Array<{ model: string; state: string; ewma_latency_ms: number | null; error_rate: number; samples: number }>;
}

const LIVE_MS = 5000;

export function OverviewPage({ who }: PageProps) {
  const lastMinute = useLoad(() => get<{ data: Metrics }>("/api/v1/usage/summary", { from: new Date(Date.now() - 60_000).toISOString(), to: new Date().toISOString() }), [], LIVE_MS);
  const today = useLoad(() => get<{ data: Metrics }>("/api/v1/usage/summary", { from: startOfDay(), to: new Date().toISOString() }), [], LIVE_MS);
  const providers = useLoad(() => get<{ data: ProviderHealth[] }>("/v1/providers"), [], LIVE_MS);
  const top = (by: string) => () => get<{ data: Grouped[] }>(`/api/v1/usage/${by}`, { days: 1, limit: 5 });
  const services = useLoad(top("by-service"), [], LIVE_MS);
  const customers = useLoad(top("by-customer"), [], LIVE_MS);
  const models = useLoad(top("by-model"), [], LIVE_MS);
  const t = today.data?.data;
  const groupCols = (field: string, label: string): Column<Grouped>[] => [
    { label, cell: (r) => String(r[field] || "(none)") },
    { label: "Requests", cell: (r) => num(r.requests) },
    { label: "Cost", cell: (r) => usd(r.cost_usd) },
  ];
  return (
    <Page title="Overview" intro={`Live: refreshed every ${LIVE_MS / 1000} s${who.kind === "tenant" ? ` · tenant ${who.tenant}` : ""}.`}>
      <ErrorBox error={today.error ?? lastMinute.error} />
      <div class="stats">
        <Stat id="rate" label="Requests / min" value={num(lastMinute.data?.data.requests)} />
        <Stat id="errors" label="Error rate today" value={pct(t?.error_rate)} />
        <Stat id="spend" label="Spend today" value={usd(t?.cost_usd)} />
        <Stat id="hit" label="Cache hit rate" value={pct(t?.cache_hit_rate)} />
        <Stat id="saved" label="Saved by cache" value={usd(t?.saved_usd ?? 0)} />
        <Stat id="p95" label="p95 latency" value={ms(t?.p95_ms)} />
      </div>
      <h2>Providers</h2>
      <ErrorBox error={providers.error} />
      <Table<ProviderHealth>
        label="Provider health"
        rows={providers.data?.data ?? []}
        rowKey={(p) => p.id}
        columns={[
          { label: "Provider", cell: (p) => p.id },
          { label: "State", cell: (p) => <span class={`state state-${p.state ?? "closed"}`}>{p.state ?? "closed"}</span> },
          { label: "Breakers", cell: (p) => (p.targets ?? []).map((x) => `${x.model}: ${x.state}`).join(", ") || "–" },
          { label: "Latency (EWMA)", cell: (p) => (p.targets ?? []).filter((x) => x.samples > 0).map((x) => `${x.model}: ${ms(x.ewma_latency_ms)}`).join(", ") || "no traffic yet" },
          { label: "Error rate", cell: (p) => (p.targets ?? []).filter((x) => x.samples > 0).map((x) => `${x.model}: ${pct(x.error_rate)}`).join(", ") || "–" },
        ]}
      />
      <div class="grid3">
        <div>
          <h2>Top services</h2>
          <Table label="Top services" rows={services.data?.data ?? []} rowKey={(r) => String(r.service)} columns={groupCols("service", "Service")} />
        </div>
        <div>
          <h2>Top customers</h2>
          <Table label="Top customers" rows={customers.data?.data ?? []} rowKey={(r) => String(r.user_id)} columns={groupCols("user_id", "Customer")} />
        </div>
        <div>
          <h2>Top models</h2>
          <Table label="Top models" rows={models.data?.data ?? []} rowKey={(r) => String(r.model)} columns={groupCols("model", "Model")} />
        </div>
      </div>
    </Page>
  );
}

function startOfDay(): string {
  const d = new Date();
  d.setUTCHours(0, 0, 0, 0);
  return d.toISOString();
}
