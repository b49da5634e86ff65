/**
 * Start: read env, wire implementations, listen. The only place that chooses implementations.
 *
 *   bun run src/main.ts        (or `make run`)
 */
import { buildApp } from "./app.ts";
import { BootstrapError, type BootstrapFile, bootstrapCommands, builtinProviders, checkEnvKeys, readBootstrapFile } from "./config/bootstrap.ts";
import { decryptSecret, deriveKey, encryptSecret, maskKey, providerKeyAad, SecretError } from "./config/secrets.ts";
import type { ConfigState, ProviderFields } from "./projections/config/model.ts";
import { initialState } from "./projections/config/model.ts";
import { ConfigService } from "./projections/config/service.ts";
import { rebuildBudgetCounters, replaySettles } from "./projections/counters.ts";
import { toSnapshot } from "./projections/config/to-snapshot.ts";
import { MemoryStateStore } from "./stores/memory-state-store.ts";
import type { StateStore } from "./stores/state-store.ts";
import { AdminKeyError, resolveAdminKey } from "./config/admin-key.ts";
import { loopbackHostNames } from "./api/request-guard.ts";
import { isLoopback, loadSettings, type Settings, SettingsError } from "./config/env.ts";
import type { ConfigSnapshot } from "./config/snapshot.ts";
import { BatchingEmitter } from "./events/emitter.ts";
import type { EventLog } from "./events/event-log.ts";
import { FileEventLog } from "./events/file-log.ts";
import { DirLockedError } from "./events/dir-lock.ts";
import { OutboxEventLog } from "./events/outbox.ts";
import { PluginLoadError } from "./pipeline/loader.ts";
import { loadOperatorPlugins, pluginCatalog } from "./pipeline/operator/index.ts";
import type { PluginHost } from "./pipeline/operator/host.ts";
import type { BreakerOptions } from "./pipeline/operator/guard.ts";
import { makeEvent } from "./events/envelope.ts";
import type { Plugin } from "./pipeline/plugin.ts";
import { Pipeline } from "./pipeline/runner.ts";
import { providerCallPlugin } from "./plugins/provider-call.ts";
import { routingPlugin } from "./plugins/routing.ts";
import { authPlugin } from "./plugins/auth.ts";
import { IdentityService } from "./identity/service.ts";
import { FailureLimiter } from "./identity/failures.ts";
import { JwtVerifier } from "./identity/jwt/verifier.ts";
import { rememberSourceIp } from "./identity/actor.ts";
import { limitsPlugin } from "./plugins/limits.ts";
import { guardrailsPlugin } from "./plugins/guardrails.ts";
import { cachePlugin } from "./plugins/cache.ts";
import { openCacheStore } from "./cache/open.ts";
import type { CacheStore } from "./cache/store.ts";
import { SemanticTier } from "./cache/semantic-store.ts";
import { LocalEmbedder } from "./cache/embedder/local-embedder.ts";
import { Router } from "./routing/router.ts";
import { infoLines } from "./telemetry/line-writer.ts";
import { applyLogLevel } from "./telemetry/log.ts";
import { gatewayTelemetry } from "./telemetry/setup.ts";
import type { Telemetry } from "./telemetry/telemetry.ts";
import { ProviderSet } from "./providers/provider-set.ts";
import { createProvider } from "./providers/registry.ts";
import { join } from "node:path";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { USAGE_GROUP } from "./projections/usage.ts";
import type { AnalyticsStore } from "./analytics/store.ts";
import { type AnalyticsRuntime, startAnalytics } from "./analytics/runtime.ts";
import pkg from "../package.json" with { type: "json" };
import { type DrainOutcome, drainServer, Lifecycle } from "./lifecycle/drain.ts";
import { type AlertsRuntime, startAlerts } from "./alerts/runtime.ts";

export interface Gateway {
  url: string;
  port: number;
  settings: Settings;
  /** The admin key in force: TOLLGATE_ADMIN_KEY, or the one in <data dir>/admin.key. */
  adminKey: string;
  /** The HTTP server's own cap on a request body (TOLLGATE_MAX_BODY_BYTES + 64 KiB). */
  maxRequestBodySize: number;
  log: EventLog;
  emitter: BatchingEmitter;
  outbox: OutboxEventLog | undefined;
  pipeline: Pipeline;
  /** Operators' plugins: loaded, failed, their breakers and timings. */
  plugins: PluginHost;
  readonly snapshot: ConfigSnapshot;
  config: ConfigService;
  store: StateStore;
  /** The response cache's store (Redis with REDIS_URL, else in-process). */
  cache: CacheStore;
  /** Usage analytics (absent with TOLLGATE_ANALYTICS=off). */
  analytics: AnalyticsRuntime | undefined;
  /** Traces (when OTEL_EXPORTER_OTLP_ENDPOINT is set), metrics, request log. */
  telemetry: Telemetry;
  /** Alert evaluation and delivery (absent with TOLLGATE_ALERTS=off). */
  alerts: AlertsRuntime | undefined;
  /**
   * Stop accepting, let in-flight requests and streams finish (up to `drainMs`, default
   * TOLLGATE_DRAIN_TIMEOUT_MS), flush every queued event, close the log.
   */
  stop(opts?: { drainMs?: number }): Promise<void>;
  /** How the last stop() ended its drain (undefined while serving). */
  readonly drained: DrainOutcome | undefined;
}

export interface StartOptions {
  /** Extra plugins (tests); operators' plugins come from `settings.pluginsDir`. */
  plugins?: Plugin[];
  /** Use this log instead of opening one (tests). */
  log?: EventLog;
  /** Use this state store instead of opening one (tests). */
  store?: StateStore;
  /** Use this analytics store instead of opening one (tests); it is closed on stop. */
  analytics?: AnalyticsStore;
  quiet?: boolean;
  /** Breaker of operators' plugins (tests shorten `openMs`). */
  pluginBreaker?: BreakerOptions;
  /** Where the one-JSON-line-per-request log goes (default: console.info, none when quiet). */
  requestLog?: (line: string) => void;
}

/** The built-in plugins, in pipeline order, sharing one router (breakers, health, round-robin). */
export function builtinPlugins(router: Router = new Router(), store?: StateStore): Plugin[] {
  return [guardrailsPlugin(), routingPlugin(router), ...(store ? [limitsPlugin(store)] : []), providerCallPlugin(router)] as Plugin[];
}

export async function startGateway(settings: Settings, opts: StartOptions = {}): Promise<Gateway> {
  const file = settings.configFile ? readBootstrapFile(settings.configFile) : undefined;
  if (file) checkEnvKeys(file);
  const masterKey = settings.masterKey ? deriveKey(settings.masterKey) : undefined;
  // There is never an admin API without a key: unset, it lives in the data dir (generated once).
  const admin = resolveAdminKey(settings.adminKey, settings.dataDir);
  if (admin.source === "generated") {
    console.log(`[tollgate] generated the admin key (shown once; stored in ${admin.file}, mode 0600):\n\n    TOLLGATE_ADMIN_KEY=${admin.key}\n`);
  } else if (admin.source === "file" && !opts.quiet) console.log(`[tollgate] admin key: read from ${admin.file}`);
  settings = { ...settings, adminKey: admin.key };
  const log = opts.log ?? (await openEventLog(settings));
  let store: StateStore | undefined;
  let outbox: OutboxEventLog | undefined;
  let config: ConfigService | undefined;
  let analytics: AnalyticsRuntime | undefined;
  try {
    store = opts.store ?? (await openStateStore(settings));
    return await wire(settings, opts, { file, masterKey, log, store }, (t) => {
      if (t.outbox) outbox = t.outbox;
      if (t.config) config = t.config;
      if (t.analytics) analytics = t.analytics;
    });
  } catch (err) {
    // Nothing half-started stays open: the caller may try again on the same data dir.
    await config?.stop().catch(() => {});
    await analytics?.stop().catch(() => {});
    if (outbox) await outbox.close().catch(() => {});
    else if (!opts.log) await log.close().catch(() => {});
    if (store && !opts.store) await store.close().catch(() => {});
    throw err;
  }
}

interface Opened {
  file: BootstrapFile | undefined;
  masterKey: Buffer | undefined;
  log: EventLog;
  store: StateStore;
}

async function wire(settings: Settings, opts: StartOptions, { file, masterKey, log, store }: Opened, track: (opened: { outbox?: OutboxEventLog; config?: ConfigService; analytics?: AnalyticsRuntime | undefined }) => void): Promise<Gateway> {
  // With a broker, events pass through a local durable outbox so a broker outage never blocks or loses them.
  const outbox = log.kind === "kafka" ? await OutboxEventLog.open(log, await FileEventLog.open({ dir: join(settings.dataDir, "outbox"), fsyncIntervalMs: settings.fsyncMs, segmentBytes: OUTBOX_SEGMENT_BYTES }), {
    writeAhead: true,
    onForwardError: (err) => console.warn("[events] outbox forward failed, will retry:", (err as Error).message),
    onDeadLetter: (d) => console.error(`[events] the broker refused a ${d.bytes}-byte ${d.stream} event for good (${d.reason}): sent to the dead-letter stream, the outbox moves on`),
  }) : undefined;
  if (outbox) track({ outbox });
  const emitter = new BatchingEmitter(outbox ?? log, {
    onAppendError: (err, stream, n) => console.error(`[events] append of ${n} to ${stream} failed, will retry:`, (err as Error).message),
  });
  const builtins = builtinProviders(settings);
  const providers = new ProviderSet([], createProvider);
  let snapshot!: ConfigSnapshot; // set by refresh() below, then on every config change
  // Breakers, health and round-robin state for this process; its settings follow the config.
  const router = new Router();
  const refresh = (state: ConfigState) => {
    snapshot = toSnapshot(state, builtins, keyResolver(masterKey), headersResolver(masterKey));
    providers.replace(snapshot.providers);
    router.configure(snapshot.breaker);
  };
  refresh(initialState());
  const catalog = pluginCatalog();
  const config = new ConfigService(log, store, { onChange: refresh, builtinProviders: builtins.map((p) => p.id), plugins: catalog });
  track({ config });
  await config.start();
  if (file) {
    const seal = masterKey ? (key: string, baseUrl?: string) => ({ enc: encryptSecret(key, masterKey, providerKeyAad(baseUrl)), hint: maskKey(key) }) : undefined;
    const ran = await config.bootstrap(bootstrapCommands(file, seal));
    if (!opts.quiet) console.log(ran ? `[tollgate] bootstrap file applied as config events` : `[tollgate] config stream not empty: bootstrap file ${settings.configFile} ignored`);
  }
  if (store.kind === "memory" && anyBudget(snapshot)) {
    // Embedded counters: budget spend of the current periods comes back from the log before we serve.
    const rebuilt = await rebuildBudgetCounters(log, store);
    if (rebuilt.requests && !opts.quiet) console.log(`[tollgate] budget spend rebuilt from the log: ${rebuilt.requests} requests, $${(rebuilt.micros / 1e6).toFixed(6)}`);
  } else if (store.kind !== "memory" && settings.settleReplayMs > 0 && anyBudget(snapshot)) {
    // Shared store: settles run beside the answers, so a crash may have left the last ones
    // unsettled. Settle the log's last minutes again, in the background, once the outbox has
    // handed its backlog to the log (requests already settled change nothing).
    const since = Date.now() - settings.settleReplayMs;
    void (async () => {
      await outbox?.drained(60_000);
      const replayed = await replaySettles(log, store, since);
      if (replayed.requests && !opts.quiet) console.log(`[tollgate] settles of the last ${Math.round(settings.settleReplayMs / 1000)} s replayed from the log: ${replayed.requests} requests (those already settled unchanged)`);
    })().catch((err) => console.warn(`[tollgate] settle replay failed: ${(err as Error).message}`));
  }
  // Operators' plugins: a broken one is reported (log, `plugin.failed`, admin listing) and left out; the gateway starts.
  const operator = await loadOperatorPlugins({
    dir: settings.pluginsDir,
    store,
    catalog,
    emitSystem: (e) => emitter.emit("requests", "default", makeEvent({ ...e, tenant: "default" })),
    ...(opts.pluginBreaker ? { breaker: opts.pluginBreaker } : {}),
    ...(opts.quiet ? { quiet: true } : {}),
  });
  const operatorPlugins = [...operator.host.runtimes.values()];
  // Analytics is a projection: it runs beside the request path, never in it.
  // Issue 31: onnxruntime-node hangs when loaded after chDB in one process (the reverse order works): with the model installed, the embedder's worker loads first.
  const embedder = new LocalEmbedder({ ...(settings.embedderModelDir ? { dir: settings.embedderModelDir } : {}), ...(settings.embedderThreads ? { threads: settings.embedderThreads } : {}) });
  // Only when chDB itself will load into this process (the inline engine): with the engine in its
  // own process (the default) the embedder loads on the semantic tier's first use.
  if (settings.analytics !== "off" && !opts.analytics && settings.analyticsEngine === "inline" && !settings.clickhouseUrl) await embedder.ready();
  const analytics = settings.analytics !== "off" ? startAnalytics(log, opts.analytics ?? (await openAnalyticsStore(settings)), { project: settings.analytics === "on", group: usageGroupFor(settings) }) : undefined;
  track({ analytics });
  const alerts = startAlertsFor(settings, log, store, config, masterKey, opts.quiet);
  const lifecycle = new Lifecycle();
  const telemetry = await gatewayTelemetry({ version: pkg.version, emitter, outbox, router, analytics, keyExpiries: () => liveKeyExpiries(config.state), maxTenants: settings.metricsMaxTenants, maxModels: settings.metricsMaxModels, requestLog: opts.requestLog ?? (opts.quiet || !logsInfo(settings) ? undefined : infoLines()) });
  const cache = openCacheStore(settings);
  // Semantic tier: the built-in local embedder (default `embeddings_model`; created above); index snapshots under the data dir.
  const semantic = new SemanticTier(store, { embedder, snapshotDir: join(settings.dataDir, "semantic-index") });
  // Issue 28: admin identities + the permission table, and JWT service tokens (src/identity/).
  const jwt = new JwtVerifier(() => config.state);
  const identity = new IdentityService({ adminKey: settings.adminKey, loopback: isLoopback(settings.host), config, failures: new FailureLimiter(settings.adminSigninFailures), jwt });
  const pipeline = new Pipeline([authPlugin({ loopback: isLoopback(settings.host), jwt }), cachePlugin({ store: cache, state: store, semantic, besideAdmission: true, ...(masterKey ? { masterKey } : {}) }), ...builtinPlugins(router, store), ...operator.pipelinePlugins, ...(opts.plugins ?? [])], telemetry.tracing ? { observer: telemetry } : {});
  const app = buildApp({
    pipeline,
    config: () => snapshot,
    providers,
    emitter,
    log,
    version: pkg.version,
    maxBodyBytes: settings.maxBodyBytes,
    corsOrigins: settings.corsOrigins ?? [],
    metricsToken: settings.metricsToken,
    allowedHosts: isLoopback(settings.host) ? loopbackHostNames(settings.host, settings.allowedHosts) : undefined,
    admin: { config, adminKey: settings.adminKey, loopback: isLoopback(settings.host), masterKey, providers, identity, providerEnv: { prefix: settings.providerEnvPrefix, allow: settings.providerEnvAllow ?? [] } },
    ...(outbox ? { outbox } : {}),
    store,
    router,
    analytics,
    lifecycle,
    plugins: operator.host,
    telemetry,
    cache,
    semantic,
    responsesTtlMs: settings.responsesTtlSeconds * 1000,
  });
  const server = Bun.serve({
    port: settings.port,
    hostname: settings.host,
    // Bun's own cap is the configured limit (its default, 128 MiB, let any body in before auth)
    // plus a small margin, so a body just past the limit still meets our parser, which counts the
    // bytes of every body and answers a JSON 413 (Bun's own 413 has an empty body).
    maxRequestBodySize: serverBodyCap(settings.maxBodyBytes),
    idleTimeout: 255,
    fetch: (req, srv) => {
      rememberSourceIp(req, srv.requestIP(req)?.address); // the audit trail's source IP (issue 28)
      const idToken = identity.prepare(req); // an admin's OIDC ID token: verified before the sync admin check
      return idToken ? idToken.then(() => app.handle(req)) : app.handle(req);
    },
  });
  const port = server.port ?? settings.port;
  const url = `http://${settings.host.includes(":") ? `[${settings.host}]` : settings.host}:${port}`;
  if (!opts.quiet) {
    console.log(`[tollgate] listening on ${url} (event log: ${log.kind}, providers: ${providers.list().map((p) => p.id).join(", ")})`);
    if (operatorPlugins.length) console.log(`[tollgate] plugins: ${operatorPlugins.map((p) => `${p.name}@${p.manifest.version}`).join(", ")}`);
    if (isLoopback(settings.host) && !snapshot.tenancy?.anyKeys) console.warn("[tollgate] no virtual keys yet: requests run as tenant `default` (loopback only)");
  }
  let stopping: Promise<void> | undefined;
  let drained: DrainOutcome | undefined;
  return {
    url,
    port,
    settings,
    adminKey: settings.adminKey!,
    maxRequestBodySize: serverBodyCap(settings.maxBodyBytes),
    log,
    emitter,
    outbox,
    pipeline,
    plugins: operator.host,
    get snapshot() {
      return snapshot;
    },
    get drained() {
      return drained;
    },
    config,
    store,
    cache,
    analytics,
    telemetry,
    alerts,
    stop(stopOpts) {
      // Idempotent: a second call (a second signal) waits for the same drain, never cuts it short.
      stopping ??= (async () => {
        drained = await drainServer(server, lifecycle, stopOpts?.drainMs ?? settings.drainTimeoutMs);
        // Requests cut by the timeout record themselves (client_disconnected) as their upstream call aborts.
        for (const until = Date.now() + 2_000; pipeline.active > 0 && Date.now() < until; ) await Bun.sleep(5);
        await operator.host.stop();
        await telemetry.flush().catch(() => {});
        await cache.close();
        await alerts?.stop();
        await semantic.close().catch(() => {});
        await embedder.close().catch(() => {});
        await config.stop();
        await emitter.close();
        await analytics?.stop();
        if (outbox) await outbox.close();
        else if (!opts.log) await log.close();
        if (!opts.store) await store.close();
      })();
      return stopping;
    },
  };
}

/** The HTTP server's hard cap on a body: the configured limit and a 64 KiB margin (see Bun.serve above). */
export const serverBodyCap = (limit: number) => limit + 64 * 1024;

/**
 * Alerts off the request path (src/alerts): one evaluator at a time through a lock in the state
 * store, so with Kafka it needs Redis (else only the notifier runs here: start
 * `tollgate projections run alerts` with REDIS_URL for the evaluation).
 */
function startAlertsFor(settings: Settings, log: EventLog, store: StateStore, config: ConfigService, masterKey: Buffer | undefined, quiet?: boolean): AlertsRuntime | undefined {
  if (settings.alerts === "off") return undefined;
  const evaluate = !(log.kind === "kafka" && store.kind === "memory");
  if (!evaluate && !quiet) console.warn("[alerts] Kafka without REDIS_URL: this instance only delivers alerts; the evaluator needs a shared lock (REDIS_URL)");
  return startAlerts({ log, store, config: () => config.state, masterKey, evaluate });
}

/** Expiry times of the keys not revoked (the key-expiry series of /metrics). */
function* liveKeyExpiries(state: ConfigState): Generator<string> {
  for (const k of Object.values(state.entities.key)) if (k.fields.expires_at && !k.fields.revoked_at) yield k.fields.expires_at;
}

/** Outbox segments are deleted once forwarded: keep them small. */
const OUTBOX_SEGMENT_BYTES = 16 * 1024 * 1024;

/** The event log: Kafka when KAFKA_BROKERS is set, else the file log under the data dir. */
export async function openEventLog(settings: Settings): Promise<EventLog> {
  if (settings.kafkaBrokers) {
    const { KafkaEventLog } = await import("./events/kafka-log.ts"); // loaded only when used
    return KafkaEventLog.connect({ brokers: settings.kafkaBrokers, topicPrefix: settings.kafkaTopicPrefix });
  }
  return FileEventLog.open({ dir: join(settings.dataDir, "log"), fsyncIntervalMs: settings.fsyncMs });
}

/** The state store: Redis when REDIS_URL is set, else in-process memory. */
export async function openStateStore(settings: Settings): Promise<StateStore> {
  if (!settings.redisUrl) return new MemoryStateStore();
  const { RedisStateStore } = await import("./stores/redis-state-store.ts"); // loaded only when used
  return RedisStateStore.connect(settings.redisUrl, { prefix: settings.redisPrefix });
}

/**
 * The usage projection's consumer group. With a shared ClickHouse server (or the file log: one
 * process) every projecting instance is one group and the partitions are shared out. With Kafka
 * and an embedded store, each instance has its own chDB, so each needs every event: a group of
 * its own, named in a file inside the chDB directory (a new or wiped store replays from the start).
 */
export function usageGroupFor(settings: Settings): string {
  if (!settings.kafkaBrokers || settings.clickhouseUrl) return USAGE_GROUP;
  const dir = analyticsDir(settings);
  const file = join(dir, "projection-group");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const group = `${USAGE_GROUP}.local-${crypto.randomUUID().slice(0, 8)}`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, `${group}\n`);
  return group;
}

/** Where the embedded analytics store (chDB) keeps its data. */
const analyticsDir = (settings: Settings) => join(settings.dataDir, "analytics");

/** The per-request log line is info: not even built above that level. */
const logsInfo = (settings: Settings) => settings.logLevel === "info" || settings.logLevel === "debug";

/** Whether any key or tenant has a budget (else there is no spend to rebuild). */
function anyBudget(snapshot: ConfigSnapshot): boolean {
  const t = snapshot.tenancy;
  if (!t) return false;
  for (const k of t.keys.values()) if (k.budget) return true;
  return Object.values(t.tenants).some((x) => x.budget);
}

/** The analytics store: a ClickHouse server when CLICKHOUSE_URL is set, else chDB under the data dir. */
export async function openAnalyticsStore(settings: Settings): Promise<AnalyticsStore> {
  if (settings.clickhouseUrl) {
    const { ClickHouseAnalyticsStore } = await import("./analytics/clickhouse-store.ts");
    return ClickHouseAnalyticsStore.connect({
      url: settings.clickhouseUrl,
      database: settings.clickhouseDatabase,
      ...(settings.clickhouseUser ? { username: settings.clickhouseUser } : {}),
      ...(settings.clickhousePassword ? { password: settings.clickhousePassword } : {}),
    });
  }
  const dir = analyticsDir(settings);
  try {
    if (settings.analyticsEngine === "process") {
      // The engine in a child process: its memory, threads and CPU stay off the gateway process.
      const { ProcessAnalyticsStore } = await import("./analytics/process-store.ts");
      return await ProcessAnalyticsStore.open(dir, { database: settings.clickhouseDatabase });
    }
    const { ChdbAnalyticsStore } = await import("./analytics/chdb-store.ts"); // the engine loads only when used
    return await ChdbAnalyticsStore.open(dir, { database: settings.clickhouseDatabase });
  } catch (err) {
    throw new AnalyticsOpenError(
      `cannot open the embedded analytics store at ${dir} (${(err as Error).message}): is another gateway or \`tollgate projections rebuild usage\` using this data dir? Use another TOLLGATE_DATA_DIR, CLICKHOUSE_URL, or TOLLGATE_ANALYTICS=off`,
    );
  }
}

/** The embedded analytics store could not be opened (chDB allows one process per directory). */
export class AnalyticsOpenError extends Error {
  override name = "AnalyticsOpenError";
}

/** Sealed provider headers (issue 22): decrypted with the master key, bound to the base URL. */
function headersResolver(masterKey: Buffer | undefined) {
  return (f: ProviderFields, id: string): Record<string, string> | undefined => {
    if (!f.headers_enc) return f.headers;
    if (!masterKey) throw new SecretError(`provider ${id} has stored headers: set TOLLGATE_MASTER_KEY to use them`);
    return JSON.parse(decryptSecret(f.headers_enc, masterKey, providerKeyAad(f.base_url))) as Record<string, string>;
  };
}

/** Provider keys: decrypted from the entity (master key) or read from the named env variable. */
function keyResolver(masterKey: Buffer | undefined) {
  return (f: ProviderFields, id: string): string | undefined => {
    if (f.api_key_enc) {
      if (!masterKey) throw new SecretError(`provider ${id} has a stored API key: set TOLLGATE_MASTER_KEY to use it`);
      return decryptSecret(f.api_key_enc, masterKey, providerKeyAad(f.base_url));
    }
    return f.api_key_env ? process.env[f.api_key_env] : undefined;
  };
}

async function main(): Promise<void> {
  let gateway: Gateway;
  try {
    const settings = loadSettings();
    applyLogLevel(settings.logLevel);
    gateway = await startGateway(settings);
  } catch (err) {
    if (err instanceof SettingsError || err instanceof AdminKeyError || err instanceof BootstrapError || err instanceof PluginLoadError || err instanceof SecretError || err instanceof AnalyticsOpenError || err instanceof DirLockedError) {
      console.error(`[tollgate] ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return; // make and the shell may both forward the signal
    shuttingDown = true;
    console.log(`[tollgate] ${signal}: draining in-flight requests (up to ${gateway.settings.drainTimeoutMs} ms), then events`);
    await gateway.stop();
    console.log(`[tollgate] stopped (${gateway.drained === "timed_out" ? "drain timed out: the rest was cut" : "every in-flight request finished"})`);
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  // A background task's failure (a projection read while the broker elects a leader, …) must not
  // take the gateway and its in-flight requests down: every such task retries on its own. Logged
  // with its type and message (no request data is in these errors), never swallowed silently.
  process.on("unhandledRejection", (reason) => {
    const e = reason as { name?: string; type?: string; message?: string; stack?: string };
    console.error(`[tollgate] a background task failed and will be retried: ${e?.name ?? "Error"}${e?.type ? ` ${e.type}` : ""}: ${e?.message ?? String(reason)}`);
    if (process.env.TOLLGATE_DEBUG_REJECTIONS === "1") console.error(e?.stack);
  });
}

if (import.meta.main) await main();
