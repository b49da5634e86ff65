/** Prices: the effective price of every provider's model and where it comes from; operator overrides. */
import { get } from "../api.ts";
import { ErrorBox, Page, Table, useLoad } from "../components.tsx";
import { EntityCollection } from "./entity.tsx";
import type { PageProps } from "./index.ts";

type Rate = number | { base: number; tiers: Array<{ start: number; price: number }> };
interface Effective {
  provider: string;
  model: string;
  input: Rate;
  output: Rate;
  cached_input: Rate | null;
  source: { kind: string; label: string; version: string | number | null };
}
interface Price {
  id: string;
  input: number;
  output: number;
  cached_input?: number;
  cache_write?: number;
}

const rate = (r: Rate | null) => (r === null ? "–" : typeof r === "number" ? `$${r}` : `$${r.base} (tiered)`);

function Effective() {
  const data = useLoad(async () => {
    const providers = await get<{ data: Array<{ id: string }> }>("/api/v1/providers");
    const ids = [...providers.data.map((p) => p.id), "echo"];
    const lists = await Promise.all(ids.map((provider) => get<{ data: Effective[] }>("/api/v1/prices", { provider }).then((r) => r.data, () => [] as Effective[])));
    return lists.flat();
  }, []);
  return (
    <>
      <ErrorBox error={data.error} />
      <Table
        label="Effective prices"
        rows={data.data ?? []}
        rowKey={(p) => `${p.provider}/${p.model}`}
        columns={[
          { label: "Provider/model", cell: (p) => `${p.provider}/${p.model}` },
          { label: "Input / 1M", cell: (p) => rate(p.input) },
          { label: "Output / 1M", cell: (p) => rate(p.output) },
          { label: "Cached input / 1M", cell: (p) => rate(p.cached_input) },
          { label: "Source", cell: (p) => `${p.source.label}${p.source.version ? ` (${p.source.version})` : ""}` },
        ]}
        empty="No priced models."
      />
    </>
  );
}

export function PricesPage(_: PageProps) {
  return (
    <Page title="Prices" intro="What each model costs here: an operator's price entity, else the bundled @pydantic/genai-prices catalog. USD per million tokens.">
      <Effective />
      <h2>Overrides</h2>
      <EntityCollection<Price>
        spec={{
          base: "/api/v1/prices",
          noun: "price",
          slug: "prices",
          numeric: ["input", "output", "cached_input", "cache_write"],
          columns: [
            { label: "Id (provider/model)", cell: (p) => p.id },
            { label: "Input", cell: (p) => `$${p.input}` },
            { label: "Output", cell: (p) => `$${p.output}` },
            { label: "Cached input", cell: (p) => (p.cached_input === undefined ? "–" : `$${p.cached_input}`) },
          ],
          create: [
            { name: "id", label: "provider/model", required: true, placeholder: "openai/gpt-4o-mini" },
            { name: "input", label: "Input USD / 1M", type: "number", required: true },
            { name: "output", label: "Output USD / 1M", type: "number", required: true },
            { name: "cached_input", label: "Cached input USD / 1M", type: "number" },
            { name: "cache_write", label: "Cache write USD / 1M", type: "number" },
          ],
        }}
      />
    </Page>
  );
}
