/**
 * Start: read env, wire implementations, listen. The only place that chooses implementations.
 *
 *   bun run src/main.ts        (or `make run`)
 */
import { buildApp } from "./app.ts";
import { BootstrapError, buildSnapshot, readBootstrapFile } from "./config/bootstrap.ts";
import { isLoopback, loadSettings, type Settings, SettingsError } from "./config/env.ts";
import type { ConfigSnapshot } from "./config/snapshot.ts";
import { BatchingEmitter } from "./events/emitter.ts";
import type { EventLog } from "./events/event-log.ts";
import { FileEventLog } from "./events/file-log.ts";
import { loadPlugins, PluginLoadError } from "./pipeline/loader.ts";
import type { Plugin } from "./pipeline/plugin.ts";
import { Pipeline } from "./pipeline/runner.ts";
import { providerCallPlugin } from "./plugins/provider-call.ts";
import { routingPlugin } from "./plugins/routing.ts";
import { ProviderSet } from "./providers/provider-set.ts";
import { createProvider } from "./providers/registry.ts";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };

export interface Gateway {
  url: string;
  port: number;
  settings: Settings;
  log: EventLog;
  emitter: BatchingEmitter;
  pipeline: Pipeline;
  snapshot: ConfigSnapshot;
  /** Stop listening, flush every queued event, close the log. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Extra plugins (tests); operators' plugins come from `settings.pluginsDir`. */
  plugins?: Plugin[];
  /** Use this log instead of opening one (tests). */
  log?: EventLog;
  quiet?: boolean;
}

/** The built-in plugins, in pipeline order. */
export function builtinPlugins(): Plugin[] {
  return [routingPlugin(), providerCallPlugin()] as Plugin[];
}

export async function startGateway(settings: Settings, opts: StartOptions = {}): Promise<Gateway> {
  const file = settings.configFile ? readBootstrapFile(settings.configFile) : {};
  const snapshot = buildSnapshot(settings, file);
  const log = opts.log ?? (await FileEventLog.open({ dir: join(settings.dataDir, "log") }));
  const emitter = new BatchingEmitter(log, {
    onAppendError: (err, stream, n) => console.error(`[events] append of ${n} to ${stream} failed, will retry:`, (err as Error).message),
  });
  const operatorPlugins = await loadPlugins(settings.pluginsDir);
  const pipeline = new Pipeline([...builtinPlugins(), ...operatorPlugins, ...(opts.plugins ?? [])]);
  const providers = new ProviderSet(snapshot.providers, createProvider);
  const app = buildApp({
    pipeline,
    config: () => snapshot,
    providers,
    emitter,
    log,
    version: pkg.version,
    maxBodyBytes: settings.maxBodyBytes,
    corsOrigins: settings.corsOrigins,
  });
  const server = Bun.serve({
    port: settings.port,
    hostname: settings.host,
    // Bun's own hard cap sits far above ours so our parser (which stops reading at the limit)
    // answers with a proper 413 body.
    maxRequestBodySize: Math.max(settings.maxBodyBytes * 4, 1 << 30),
    idleTimeout: 255,
    fetch: (req) => app.handle(req),
  });
  const port = server.port ?? settings.port;
  const url = `http://${settings.host.includes(":") ? `[${settings.host}]` : settings.host}:${port}`;
  if (!opts.quiet) {
    console.log(`[tollgate] listening on ${url} (event log: ${log.kind}, providers: ${providers.list().map((p) => p.id).join(", ")})`);
    if (operatorPlugins.length) console.log(`[tollgate] plugins: ${operatorPlugins.map((p) => `${p.name}@${p.version}`).join(", ")}`);
    if (isLoopback(settings.host)) console.warn("[tollgate] no virtual keys yet: requests run as tenant `default` (loopback only)");
  }
  let stopped = false;
  return {
    url,
    port,
    settings,
    log,
    emitter,
    pipeline,
    snapshot,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop(true);
      await emitter.close();
      if (!opts.log) await log.close();
    },
  };
}

async function main(): Promise<void> {
  let gateway: Gateway;
  try {
    gateway = await startGateway(loadSettings());
  } catch (err) {
    if (err instanceof SettingsError || err instanceof BootstrapError || err instanceof PluginLoadError) {
      console.error(`[tollgate] ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const shutdown = async (signal: string) => {
    console.log(`[tollgate] ${signal}: draining events and stopping`);
    await gateway.stop();
    console.log("[tollgate] stopped");
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

if (import.meta.main) await main();
