/** The console's pages, in menu order. `tenantView`: shown to a virtual key (read-only, its tenant). */
import type { FunctionComponent } from "preact";
import type { Identity } from "../api.ts";
import { CachePage } from "./cache.tsx";
import { CostPage } from "./cost.tsx";
import { GuardrailsPage } from "./guardrails.tsx";
import { HistoryPage } from "./history.tsx";
import { OverridesPage } from "./overrides.tsx";
import { OverviewPage } from "./overview.tsx";
import { PluginsPage } from "./plugins.tsx";
import { PricesPage } from "./prices.tsx";
import { ProvidersPage } from "./providers.tsx";
import { RequestsPage } from "./requests.tsx";
import { RoutesPage } from "./routes.tsx";
import { TenantsPage } from "./tenants.tsx";

export interface PageProps {
  who: Identity;
  /** Path segments after the page's own (e.g. a request id). */
  sub: string[];
}

export interface PageDef {
  path: string;
  title: string;
  view: FunctionComponent<PageProps>;
  tenantView?: boolean;
  /** A page outside the single-page app (the usage charts). */
  external?: string;
}

export const PAGES: PageDef[] = [
  { path: "overview", title: "Overview", view: OverviewPage, tenantView: true },
  { path: "requests", title: "Requests", view: RequestsPage, tenantView: true },
  { path: "providers", title: "Providers", view: ProvidersPage },
  { path: "routes", title: "Routes & models", view: RoutesPage },
  { path: "overrides", title: "Customer overrides", view: OverridesPage },
  { path: "tenants", title: "Tenants & keys", view: TenantsPage, tenantView: true },
  { path: "guardrails", title: "Guardrails", view: GuardrailsPage },
  { path: "cache", title: "Cache", view: CachePage, tenantView: true },
  { path: "plugins", title: "Plugins", view: PluginsPage },
  { path: "prices", title: "Prices", view: PricesPage },
  { path: "cost", title: "Cost comparison", view: CostPage },
  { path: "history", title: "Config history", view: HistoryPage },
  { path: "usage", title: "Usage", view: () => null, tenantView: true, external: "/console/usage" },
];
