/** Customer overrides: an end customer (optionally for one service, inside one tenant) pinned to a provider/model. */
import { Page } from "../components.tsx";
import { EntityCollection } from "./entity.tsx";
import type { PageProps } from "./index.ts";

interface Override {
  id: string;
  user_id: string;
  service: string | null;
  tenant: string | null;
  provider: string;
  model: string;
  level: string;
}

export function OverridesPage(_: PageProps) {
  return (
    <Page title="Customer overrides" intro="Precedence, most specific first: customer + service > customer > tenant + service route override > tenant route override > gateway route > alias/model. A tenant-scoped customer override beats an every-tenant one.">
      <EntityCollection<Override>
        spec={{
          base: "/api/v1/overrides",
          noun: "override",
          slug: "overrides",
          noEdit: true,
          columns: [
            { label: "Customer", cell: (o) => o.user_id },
            { label: "Service", cell: (o) => o.service ?? "every service" },
            { label: "Tenant", cell: (o) => o.tenant ?? "every tenant" },
            { label: "Served by", cell: (o) => `${o.provider}/${o.model}` },
            { label: "Precedence", cell: (o) => (o.level === "customer_service" ? "1 · customer + service" : "2 · customer") },
          ],
          create: [
            { name: "user_id", label: "Customer (user_id)", required: true },
            { name: "service", label: "Service (empty: every service)" },
            { name: "tenant", label: "Tenant (empty: every tenant)" },
            { name: "provider", label: "Provider", required: true },
            { name: "model", label: "Model", required: true },
          ],
        }}
      />
    </Page>
  );
}
