/** Cost comparison: what the recorded usage would have cost on other models (POST /api/v1/analysis/reprice). */
import { useState } from "preact/hooks";
import { ApiError, api } from "../api.ts";
import { Form, Page, Table, usd } from "../components.tsx";
import type { PageProps } from "./index.ts";

interface Reprice {
  catalog_version: string;
  actual: { cost_usd: number; unpriced_requests: number };
  candidates: Array<{ name: string; price_source: string | null; priceable: boolean; cost_usd: number | null }>;
  breakdown?: Array<{ service: string | null; provider: string | null; model: string | null; requests: number; actual_usd: number; candidates: Array<{ name: string; cost_usd: number | null }> }>;
}

export function CostPage(_: PageProps) {
  const [result, setResult] = useState<Reprice | undefined>();
  const best = result ? Math.max(result.actual.cost_usd, ...result.candidates.map((c) => c.cost_usd ?? 0)) : 0;
  return (
    <Page title="Cost comparison" intro="The same recorded usage — input, output, cached and reasoning tokens — priced at other models (the bundled catalog) or at a price you give. Computed inside the analytics store.">
      <Form
        id="reprice"
        fields={[
          { name: "days", label: "Last days", type: "number" },
          { name: "service", label: "Only service" },
          { name: "candidates", label: "Candidates: provider/model, comma-separated", required: true, placeholder: "anthropic/claude-3-5-haiku, openai/gpt-4o-mini" },
        ]}
        initial={{ days: "30" }}
        label="Compare"
        submit={async (v) => {
          const candidates = String(v.candidates ?? "")
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean)
            .map((s) => {
              const i = s.indexOf("/");
              if (i <= 0) throw new ApiError(400, "invalid_request", `candidate \`${s}\`: write provider/model`, "candidates");
              return { provider: s.slice(0, i), model: s.slice(i + 1) };
            });
          const days = Number(v.days || 30);
          const to = new Date();
          const from = new Date(to.getTime() - days * 86_400_000);
          setResult(await api<Reprice>("POST", "/api/v1/analysis/reprice", { from: from.toISOString(), to: to.toISOString(), ...(v.service ? { filter: { service: v.service } } : {}), candidates }));
        }}
      />
      {result ? (
        <div class="panel" id="reprice-result">
          <p>Catalog {result.catalog_version}. Actual cost {usd(result.actual.cost_usd)}{result.actual.unpriced_requests ? ` (${result.actual.unpriced_requests} requests unpriced)` : ""}.</p>
          <div class="bars" role="img" aria-label="Cost per candidate">
            {[{ name: "actual", cost_usd: result.actual.cost_usd as number | null }, ...result.candidates].map((c) => (
              <div class="bar-row" key={c.name}>
                <span>{c.name}</span>
                <span class="hbar">
                  <span class={`w${best > 0 && c.cost_usd !== null ? Math.round(((c.cost_usd / best) * 100) / 5) * 5 : 0}`} />
                </span>
                <span>{c.cost_usd === null ? "not priceable" : usd(c.cost_usd)}</span>
              </div>
            ))}
          </div>
          <Table
            label="Candidates"
            rows={result.candidates}
            rowKey={(c) => c.name}
            columns={[
              { label: "Candidate", cell: (c) => c.name },
              { label: "Price source", cell: (c) => c.price_source ?? "–" },
              { label: "Would cost", cell: (c) => (c.cost_usd === null ? "not priceable" : usd(c.cost_usd)) },
              { label: "vs actual", cell: (c) => (c.cost_usd === null || result.actual.cost_usd === 0 ? "–" : `${(((c.cost_usd - result.actual.cost_usd) / result.actual.cost_usd) * 100).toFixed(1)}%`) },
            ]}
          />
          {result.breakdown?.length ? (
            <Table
              label="By service and model"
              rows={result.breakdown}
              rowKey={(b) => `${b.service}/${b.provider}/${b.model}`}
              columns={[
                { label: "Service", cell: (b) => b.service ?? "(none)" },
                { label: "Model", cell: (b) => `${b.provider ?? "?"}/${b.model ?? "?"}` },
                { label: "Requests", cell: (b) => String(b.requests) },
                { label: "Actual", cell: (b) => usd(b.actual_usd) },
                ...result.candidates.map((c, i) => ({ label: c.name, cell: (b: NonNullable<Reprice["breakdown"]>[number]) => (b.candidates[i]?.cost_usd == null ? "–" : usd(b.candidates[i]!.cost_usd)) })),
              ]}
            />
          ) : null}
        </div>
      ) : null}
    </Page>
  );
}
