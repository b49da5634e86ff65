/**
 * buildApp(deps): the Elysia app — routes, body limits, errors, CORS, docs. No globals: every
 * dependency comes in through `deps`, so tests build as many apps as they like.
 */
import { cors } from "@elysiajs/cors";
import { Elysia } from "elysia";
import type { EventLog } from "./events/event-log.ts";
import { uuidv7 } from "./events/uuidv7.ts";
import { docsRoutes } from "./api/docs.ts";
import { dashboardRoutes } from "./api/dashboard.ts";
import { consoleRoutes } from "./console/routes.ts";
import { resolutionRoutes } from "./api/resolution.ts";
import { budgetsRoutes } from "./api/budgets.ts";
import { generateRoutes } from "./api/generate.ts";
import { type GatewayDeps, recordRejected } from "./api/gateway.ts";
import { healthRoutes } from "./api/health.ts";
import { errorResponse, fromElysiaError, readJsonBody } from "./api/http.ts";
import { checkPath, checkQuery } from "./api/path-guard.ts";
import { checkHost } from "./api/request-guard.ts";
import { allowedMethods, methodNotAllowed } from "./api/method-guard.ts";
import { openaiRoutes } from "./api/openai.ts";
import { anthropicErrorResponse, anthropicRoutes } from "./api/anthropic.ts";
import { responsesRoutes } from "./api/responses.ts";
import { ResponsesStore } from "./api/responses-store.ts";
import type { GatewayError } from "./pipeline/errors.ts";
import { embeddingsRoutes } from "./api/embeddings.ts";
import { type AdminDeps, adminRoutes } from "./api/admin.ts";
import { pluginAdminRoutes } from "./api/plugins-admin.ts";
import type { PluginHost } from "./pipeline/operator/host.ts";
import type { StateStore } from "./stores/state-store.ts";
import type { OutboxEventLog } from "./events/outbox.ts";
import type { Router } from "./routing/router.ts";
import { providerRoutes } from "./api/providers.ts";
import { keysSelfRoutes } from "./api/keys-self.ts";
import { tenancyRoutes } from "./api/tenancy.ts";
import { guardrailsRoutes } from "./api/guardrails.ts";
import { overridesRoutes } from "./api/overrides.ts";
import { identityRoutes } from "./api/identity.ts";
import { rememberBody } from "./identity/actor.ts";
import { usageRoutes } from "./api/usage.ts";
import { explorerRoutes } from "./api/explorer.ts";
import { alertsRoutes } from "./api/alerts.ts";
import { slaRoutes } from "./api/sla.ts";
import type { AnalyticsRuntime } from "./analytics/runtime.ts";
import type { Lifecycle } from "./lifecycle/drain.ts";
import { cacheRoutes } from "./api/cache.ts";
import type { CacheStore } from "./cache/store.ts";
import type { SemanticTier } from "./cache/semantic-store.ts";

export interface AppDeps extends GatewayDeps {
  log: EventLog;
  version: string;
  maxBodyBytes: number;
  /** Allowed browser origins; `["*"]` allows any (without credentials); empty: no CORS headers. */
  corsOrigins: string[];
  /** TOLLGATE_METRICS_TOKEN: when set, /metrics needs it (or the admin key). */
  metricsToken?: string | undefined;
  /** On a loopback bind: the `Host` names answered (DNS-rebinding guard); undefined: any. */
  allowedHosts?: ReadonlySet<string>;
  admin: AdminDeps;
  store: StateStore;
  /** Present when events pass through a local outbox (broker mode). */
  outbox?: OutboxEventLog;
  router: Router;
  /** Usage analytics; absent when turned off. */
  analytics?: AnalyticsRuntime | undefined;
  /** Shutdown state (readiness answers 503 while draining). */
  lifecycle?: Lifecycle;
  /** Operators' plugins (admin listing and settings); absent in tests that build the app alone. */
  plugins?: PluginHost;
  /** The response cache's store (absent: no cache routes). */
  cache?: CacheStore;
  semantic?: SemanticTier;
  /** Stored /v1/responses conversations live this long (ms); default 30 days. */
  responsesTtlMs?: number;
}

/**
 * Model-call routes: their rejected requests are recorded as events, and their errors use the
 * client's wire format (Anthropic's body on /v1/messages, OpenAI's everywhere else).
 */
const MODEL_ROUTES = new Map<string, { endpoint: string; render: (error: GatewayError, requestId: string) => Response }>([
  ["/v1/chat/completions", { endpoint: "chat.completions", render: openaiError }],
  ["/api/v1/generate", { endpoint: "generate", render: openaiError }],
  ["/v1/embeddings", { endpoint: "embeddings", render: openaiError }],
  ["/v1/responses", { endpoint: "responses", render: openaiError }],
  ["/v1/messages", { endpoint: "messages", render: (e, id) => anthropicErrorResponse(e, { "x-request-id": id }, id) }],
]);

function openaiError(error: GatewayError, requestId: string): Response {
  return errorResponse(error, { "x-request-id": requestId });
}

export function buildApp(deps: AppDeps) {
  // Who reads operational data (/ready details, /metrics with a token, /v1/models, /v1/providers).
  const access = { adminKey: deps.admin.adminKey, metricsToken: deps.metricsToken };
  const anyOrigin = deps.corsOrigins.length === 1 && deps.corsOrigins[0] === "*";
  const known: { routes: () => ReadonlyArray<{ method: string; path: string }> } = { routes: () => [] };
  const app = new Elysia({ name: "tollgate", normalize: false })
    .use(
      // Default: no origin at all (no CORS headers, so a page elsewhere can read nothing). Only an
      // explicit TOLLGATE_CORS_ORIGINS list turns it on.
      deps.corsOrigins.length === 0 ? new Elysia({ name: "no-cors" }) : cors({
        origin: anyOrigin ? "*" : deps.corsOrigins,
        credentials: false,
        methods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allowedHeaders: ["authorization", "content-type", "x-api-key", "anthropic-version", "anthropic-beta", "x-service-key", "x-tollgate-service", "x-tollgate-task-type", "x-tollgate-user", "x-tollgate-strategy", "traceparent", "tracestate", "cache-control"],
        exposeHeaders: ["x-request-id", "request-id", "x-tollgate-provider", "x-tollgate-model", "x-tollgate-attempts", "x-tollgate-fallback", "x-tollgate-cache-reason", "x-tollgate-max-tokens", "x-tollgate-route-level", "x-tollgate-override", "retry-after", "x-trace-id", "x-tollgate-cache", "x-tollgate-cache-key", "x-tollgate-cache-similarity", "age"],
        maxAge: 600,
      }),
    )
    .onRequest(({ request }) => {
      // Thrown, so onError renders it like any error of the route (and records rejected model calls).
      const bad = checkHost(request.headers.get("host") ?? new URL(request.url).host, deps.allowedHosts) ?? checkPath(request.url) ?? checkQuery(request.url);
      if (bad) throw bad;
    })
    .onParse(async ({ request }) => {
      const method = request.method;
      if (method === "GET" || method === "HEAD" || method === "OPTIONS") return;
      // Every body this API takes is JSON: any other content type is a 415 before a byte is read
      // (nothing falls through to the framework's form/multipart parsers), and bytes are counted.
      const body = await readJsonBody(request, deps.maxBodyBytes);
      rememberBody(request, body); // the admin check scopes a tenant named in the body (issue 28)
      return body;
    })
    .onError(({ code, error, request, body }) => {
      let gwError = fromElysiaError(code, error);
      if (code === "NOT_FOUND") {
        const allow = allowedMethods(known.routes(), new URL(request.url).pathname);
        if (allow.length > 0 && !allow.includes(request.method)) gwError = methodNotAllowed(request.method, allow);
      }
      if (gwError.status >= 500) console.error("[http] unhandled error:", error);
      const requestId = uuidv7();
      const path = new URL(request.url).pathname;
      const route = request.method === "POST" ? MODEL_ROUTES.get(path) : undefined;
      if (!route) return openaiError(gwError, requestId);
      const model = body && typeof body === "object" ? (body as { model?: unknown }).model : undefined;
      recordRejected(deps, requestId, model, route.endpoint, gwError);
      return route.render(gwError, requestId);
    })
    .use(healthRoutes({ ...deps, metrics: deps.telemetry?.metrics, access }))
    .use(openaiRoutes({ ...deps, access: { ...access, loopback: deps.admin.loopback } }))
    .use(anthropicRoutes(deps))
    .use(responsesRoutes({ ...deps, responses: new ResponsesStore(deps.store, deps.responsesTtlMs ?? 30 * 86_400_000, deps.admin.masterKey), loopback: deps.admin.loopback, adminKey: deps.admin.adminKey, identity: deps.admin.identity }))
    .use(generateRoutes(deps))
    .use(embeddingsRoutes(deps))
    .use(providerRoutes({ ...deps, access: { ...access, loopback: deps.admin.loopback, tenancy: () => deps.config().tenancy } }))
    .use(keysSelfRoutes({ config: deps.config, store: deps.store, loopback: deps.admin.loopback }))
    .use(adminRoutes({ ...deps.admin, snapshot: deps.config }))
    .use(tenancyRoutes(deps.admin))
    .use(guardrailsRoutes(deps.admin))
    .use(deps.plugins ? pluginAdminRoutes({ ...deps.admin, plugins: deps.plugins }) : new Elysia({ name: "admin-plugins" }))
    .use(overridesRoutes(deps.admin))
    .use(resolutionRoutes({ ...deps.admin, snapshot: deps.config }))
    .use(budgetsRoutes({ ...deps.admin, store: deps.store }))
    .use(alertsRoutes({ ...deps.admin, log: deps.log })) // alerts (issue 29)
    .use(slaRoutes({ analytics: deps.analytics, config: deps.config, adminKey: deps.admin.adminKey, loopback: deps.admin.loopback, identity: deps.admin.identity })) // provider SLA (issue 29)
    .use(identityRoutes(deps.admin))
    .use(usageRoutes({ analytics: deps.analytics, config: deps.config, adminKey: deps.admin.adminKey, loopback: deps.admin.loopback, identity: deps.admin.identity }))
    .use(explorerRoutes({ analytics: deps.analytics, config: deps.config, configService: deps.admin.config, log: deps.log, adminKey: deps.admin.adminKey, loopback: deps.admin.loopback, identity: deps.admin.identity }))
    .use(deps.cache ? cacheRoutes({ cache: deps.cache, config: deps.config, admin: deps.admin, ...(deps.semantic ? { semantic: deps.semantic } : {}) }) : new Elysia({ name: "no-cache-routes" }))
    .use(docsRoutes(deps.version))
    .use(dashboardRoutes())
    .use(consoleRoutes());
  known.routes = () => app.routes;
  return app;
}

export type App = ReturnType<typeof buildApp>;
