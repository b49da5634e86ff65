/** Routes & models: aliases, routes (strategy, weights, fallbacks), per-tenant route overrides, and where a request would go now. */
import { useState } from "preact/hooks";
import { get } from "../api.ts";
import { clean, ErrorBox, Form, type FormValues, Page, Table } from "../components.tsx";
import { ApiError } from "../api.ts";
import { EntityCollection } from "./entity.tsx";
import type { PageProps } from "./index.ts";

interface Alias {
  id: string;
  provider: string;
  model: string;
}
interface Route {
  id: string;
  strategy: string;
  targets: Array<{ provider: string; model: string; weight?: number; priority?: number }>;
  max_retries?: number;
}
interface Resolution {
  winner: string | null;
  levels: Array<{ level: string; matched: boolean; why: string; targets?: Array<{ provider: string; model: string }>; strategy?: string }>;
}

export const STRATEGIES = ["priority", "weighted", "round_robin", "least_latency", "lowest_cost", "ab"];

/** "openai/gpt-4o-mini, anthropic/claude-3-5-haiku:2" → targets (priority order; `:n` = weight). */
export function parseTargets(text: string): Route["targets"] {
  return text
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean)
    .map((t, i) => {
      const [pm, w] = t.split(":");
      const slash = pm!.indexOf("/");
      if (slash <= 0) throw new ApiError(400, "invalid_request", `target \`${t}\`: write provider/model`, "targets");
      return { provider: pm!.slice(0, slash), model: pm!.slice(slash + 1), priority: i, ...(w ? { weight: Number(w) } : {}) };
    });
}
const targetsText = (r: Route) => r.targets.map((t) => `${t.provider}/${t.model}${t.weight ? `:${t.weight}` : ""}`).join(", ");

function routeBody(v: FormValues, mode: "create" | "edit"): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (mode === "create") out.id = v.id;
  if (v.strategy) out.strategy = v.strategy;
  if (typeof v.targets === "string") out.targets = parseTargets(v.targets);
  if (typeof v.max_retries === "string" && v.max_retries !== "") out.max_retries = Number(v.max_retries);
  return out;
}

const routeColumns = [
  { label: "Alias", cell: (r: Route) => r.id },
  { label: "Strategy", cell: (r: Route) => r.strategy },
  { label: "Targets (in order; :weight)", cell: (r: Route) => targetsText(r) },
  { label: "Retries", cell: (r: Route) => String(r.max_retries ?? 2) },
];
const routeFields = [
  { name: "id", label: "Alias", required: true, placeholder: "chat" },
  { name: "strategy", label: "Strategy", type: "select" as const, options: STRATEGIES },
  { name: "targets", label: "Targets: provider/model, in fallback order (add :weight for weighted)", required: true, placeholder: "openai/gpt-4o-mini, anthropic/claude-3-5-haiku" },
  { name: "max_retries", label: "Retries per target", type: "number" as const },
];

function Resolver() {
  const [result, setResult] = useState<Resolution | undefined>();
  return (
    <div class="panel">
      <h2>Where does a request go now?</h2>
      <Form
        id="resolve"
        fields={[
          { name: "model", label: "Model or alias", required: true },
          { name: "tenant", label: "Tenant", placeholder: "default" },
          { name: "service", label: "Service" },
          { name: "user_id", label: "Customer (user_id)" },
        ]}
        label="Resolve"
        submit={async (v) => setResult(await get<Resolution>("/api/v1/admin/resolution", clean(v) as Record<string, string>))}
      />
      {result ? (
        <Table
          label="Resolution order"
          rows={result.levels}
          rowKey={(l) => l.level}
          columns={[
            { label: "Level", cell: (l) => l.level },
            { label: "", cell: (l) => (l.matched && l.level === result.winner ? <strong data-winner="true">wins</strong> : l.matched ? "matches" : "—") },
            { label: "Why", cell: (l) => l.why },
            { label: "Targets", cell: (l) => (l.targets ?? []).map((t) => `${t.provider}/${t.model}`).join(" → ") },
          ]}
        />
      ) : null}
    </div>
  );
}

export function RoutesPage(_: PageProps) {
  return (
    <Page title="Routes & models" intro="An alias names one provider/model; a route names several with a strategy and fallbacks. Route overrides redefine an alias for one tenant (id `tenant/alias`) or one tenant's service (`tenant/service/alias`).">
      <Resolver />
      <h2>Model aliases</h2>
      <EntityCollection<Alias>
        spec={{
          base: "/api/v1/models",
          noun: "alias",
          slug: "aliases",
          columns: [
            { label: "Alias", cell: (a) => a.id },
            { label: "Provider", cell: (a) => a.provider },
            { label: "Model", cell: (a) => a.model },
          ],
          create: [
            { name: "id", label: "Alias", required: true, placeholder: "fast" },
            { name: "provider", label: "Provider", required: true },
            { name: "model", label: "Model", required: true },
          ],
        }}
      />
      <h2>Routes</h2>
      <EntityCollection<Route> spec={{ base: "/api/v1/routes", noun: "route", slug: "routes", columns: routeColumns, create: routeFields, createInitial: { strategy: "priority" }, toBody: routeBody, toForm: (r) => ({ strategy: r.strategy, targets: targetsText(r), max_retries: r.max_retries === undefined ? "" : String(r.max_retries) }) }} />
      <h2>Route overrides</h2>
      <EntityCollection<Route> spec={{ base: "/api/v1/route-overrides", noun: "route override", slug: "route-overrides", columns: routeColumns, create: routeFields.map((f) => (f.name === "id" ? { ...f, label: "Id (tenant/alias or tenant/service/alias)", placeholder: "acme/chat" } : f)), createInitial: { strategy: "priority" }, toBody: routeBody, toForm: (r) => ({ strategy: r.strategy, targets: targetsText(r), max_retries: r.max_retries === undefined ? "" : String(r.max_retries) }) }} />
      <ErrorBox />
    </Page>
  );
}
