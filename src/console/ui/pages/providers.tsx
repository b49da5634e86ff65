/** Providers: list, add, edit, delete; API keys write-only; test connection; health and breaker state. */
import { useState } from "preact/hooks";
import { api, get } from "../api.ts";
import { ErrorBox, type FormValues, ms, Page, pct, useLoad } from "../components.tsx";
import { EntityCollection } from "./entity.tsx";
import type { PageProps } from "./index.ts";

export const PROVIDER_KINDS = ["openai", "azure", "anthropic", "gemini", "mistral", "together", "ollama", "custom", "echo"];

interface Provider {
  id: string;
  kind: string;
  base_url?: string;
  api_key?: string;
  api_key_env?: string;
  models: string[];
  enabled: boolean;
  priority: number;
  version: number;
}
interface Health {
  id: string;
  state: string;
  targets: Array<{ model: string; state: string; ewma_latency_ms: number | null; error_rate: number; samples: number }>;
}

function toBody(v: FormValues, mode: "create" | "edit"): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (mode === "create" && v.id) out.id = v.id;
  for (const k of ["kind", "base_url", "api_key_env"] as const) if (typeof v[k] === "string" && v[k] !== "") out[k] = v[k];
  // Write-only: sent only when typed; an empty field keeps the stored key.
  if (typeof v.api_key === "string" && v.api_key !== "") out.api_key = v.api_key;
  if (typeof v.models === "string") out.models = v.models.split(",").map((m) => m.trim()).filter(Boolean);
  if (typeof v.priority === "string" && v.priority !== "") out.priority = Number(v.priority);
  if (v.enabled !== undefined) out.enabled = v.enabled === true;
  return out;
}

function TestButton({ id }: { id: string }) {
  const [result, setResult] = useState<{ ok: boolean; latency_ms: number; model: string; error?: { message: string; code: string } } | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | undefined>();
  return (
    <span class="action">
      <button
        type="button"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          setError(undefined);
          try {
            setResult(await api("POST", `/api/v1/providers/${encodeURIComponent(id)}/test`, {}));
          } catch (e) {
            setError(e as Error);
          } finally {
            setBusy(false);
          }
        }}
      >
        Test
      </button>
      {result ? (
        <span class={`test-result ${result.ok ? "ok" : "bad"}`} data-test-result={result.ok ? "ok" : "failed"}>
          {result.ok ? `OK · ${result.model} · ${result.latency_ms} ms` : `Failed: ${result.error?.message ?? "error"} (${result.error?.code ?? ""})`}
        </span>
      ) : null}
      {error ? <ErrorBox error={error as never} /> : null}
    </span>
  );
}

export function ProvidersPage(_: PageProps) {
  const health = useLoad(() => get<{ data: Health[] }>("/v1/providers"), [], 5000);
  const healthOf = (id: string) => health.data?.data.find((h) => h.id === id);
  return (
    <Page title="Providers" intro="Upstream model providers. API keys are write-only: the gateway stores them encrypted and shows only a hint.">
      <EntityCollection<Provider>
        spec={{
          base: "/api/v1/providers",
          noun: "provider",
          slug: "providers",
          columns: [
            { label: "Id", cell: (p) => p.id },
            { label: "Kind", cell: (p) => p.kind },
            { label: "Base URL", cell: (p) => p.base_url ?? "(default)" },
            { label: "Key", cell: (p) => p.api_key ?? (p.api_key_env ? `env ${p.api_key_env}` : "none") },
            { label: "Models", cell: (p) => p.models.join(", ") },
            { label: "Enabled", cell: (p) => (p.enabled ? "yes" : "no") },
            {
              label: "Health",
              cell: (p) => {
                const h = healthOf(p.id);
                if (!h) return "–";
                const seen = h.targets.filter((t) => t.samples > 0);
                return `${h.state}${seen.length ? ` · ${seen.map((t) => `${t.model} ${ms(t.ewma_latency_ms)} ${pct(t.error_rate)} err`).join(", ")}` : ""}`;
              },
            },
          ],
          create: [
            { name: "id", label: "Id", required: true, placeholder: "openai-eu" },
            { name: "kind", label: "Kind", type: "select", options: PROVIDER_KINDS },
            { name: "base_url", label: "Base URL", placeholder: "https://api.openai.com/v1" },
            { name: "api_key", label: "API key (write-only)", type: "password" },
            { name: "api_key_env", label: "…or the env variable holding it" },
            { name: "models", label: "Models (comma-separated)", required: true, placeholder: "gpt-4o-mini, gpt-4o" },
            { name: "priority", label: "Priority", type: "number" },
            { name: "enabled", label: "Enabled", type: "checkbox" },
          ],
          createInitial: { kind: "openai", enabled: true, priority: "0" },
          toBody,
          toForm: (p) => ({ kind: p.kind, base_url: p.base_url ?? "", api_key: "", api_key_env: p.api_key_env ?? "", models: p.models.join(", "), priority: String(p.priority), enabled: p.enabled }),
          rowActions: (p) => <TestButton id={p.id} />,
        }}
      />
    </Page>
  );
}
