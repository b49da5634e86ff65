/**
 * Operator commands.
 *
 *   bun run tollgate projections rebuild config   drop the config projection in the StateStore and replay the log
 *   bun run tollgate projections rebuild usage    drop the usage tables in the AnalyticsStore and replay the requests stream
 *   bun run tollgate projections run usage        run the usage projection on its own (until SIGINT/SIGTERM),
 *                                                 for gateways started with TOLLGATE_ANALYTICS=query
 *   bun run tollgate projections run alerts       run the alert evaluator + notifier on its own (until SIGINT/SIGTERM),
 *                                                 for gateways started with TOLLGATE_ALERTS=off (docs/alerts.md)
 *   bun run tollgate config history [kind] [id]    print every config change, oldest first
 */
import { loadSettings, SettingsError } from "./config/env.ts";
import { DirLockedError } from "./events/dir-lock.ts";
import { AnalyticsOpenError, openAnalyticsStore, openEventLog, openStateStore, usageGroupFor } from "./main.ts";
import { rebuildUsage } from "./projections/usage.ts";
import { replayLogIndex } from "./explorer/log-index.ts";
import { startAnalytics } from "./analytics/runtime.ts";
import { ENTITY_KINDS } from "./projections/config/model.ts";
import { ConfigService, entityKey, VERSION_KEY } from "./projections/config/service.ts";
import { runAlertsProjector } from "./alerts/cli.ts";

const USAGE = `usage:
  tollgate projections rebuild config
  tollgate projections rebuild usage
  tollgate projections run usage
  tollgate projections run alerts
  tollgate config history [kind] [id]`;

async function main(args: string[]): Promise<number> {
  const settings = loadSettings();
  const [area, verb, target] = args;
  if (area === "projections" && verb === "rebuild" && target === "config") {
    const log = await openEventLog(settings);
    const store = await openStateStore(settings);
    try {
      for (const kind of ENTITY_KINDS) await store.del(entityKey(kind));
      await store.del(VERSION_KEY);
      const config = new ConfigService(log, store);
      await config.start(); // replays from offset 0 and rebuilds the store
      await config.stop();
      console.log(`config projection rebuilt in the ${store.kind} store: version ${config.state.version}`);
      return 0;
    } finally {
      await store.close();
      await log.close();
    }
  }
  if (area === "projections" && verb === "rebuild" && target === "usage") {
    // Held by a running gateway? Say how to rebuild there instead.
    const inUse = (err: unknown) => {
      throw err instanceof DirLockedError || err instanceof AnalyticsOpenError ? new Error(`${err.message}; a running gateway can rebuild itself: POST /api/v1/admin/projections/usage/rebuild`) : err;
    };
    const log = await openEventLog(settings).catch(inUse);
    try {
      const store = await openAnalyticsStore(settings).catch(inUse);
      try {
        const t0 = performance.now();
        const replayed = await rebuildUsage(log, store);
        await replayLogIndex(log, store); // the request explorer's index lived in the dropped database too
        console.log(`usage projection rebuilt in ${store.kind} (database ${store.database}): ${replayed} requests replayed in ${Math.round(performance.now() - t0)} ms`);
        return 0;
      } finally {
        await store.close();
      }
    } finally {
      await log.close();
    }
  }
  if (area === "projections" && verb === "run" && target === "usage") {
    // The projection in its own process: Kafka and a ClickHouse server in practice (the embedded
    // file log and chDB belong to the gateway process that opened them).
    const log = await openEventLog(settings);
    const analytics = startAnalytics(
      log,
      await openAnalyticsStore(settings).catch(async (err: unknown) => {
        await log.close();
        throw err;
      }),
      { group: usageGroupFor(settings) },
    );
    let stop!: (signal: string) => void;
    const stopped = new Promise<string>((resolve) => (stop = resolve));
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
    await Promise.race([analytics.ready(), stopped]);
    if (analytics.status().state === "ready") console.log(`usage projection running (${log.kind} → ${analytics.store.kind}, database ${analytics.store.database}); stop with SIGTERM`);
    const signal = await stopped;
    await analytics.stop(); // finishes the batch in flight; offsets are committed after its insert
    await log.close();
    console.log(`usage projection stopped (${signal})`);
    return 0;
  }
  if (area === "projections" && verb === "run" && target === "alerts") return runAlertsProjector(settings);
  if (area === "config" && verb === "history") {
    const log = await openEventLog(settings);
    const store = await openStateStore(settings);
    try {
      const config = new ConfigService(log, store);
      for (const h of await config.history({ ...(target ? { kind: target } : {}), ...(args[3] ? { id: args[3] } : {}) })) {
        console.log(`${h.position}\t${h.time}\t${h.actor}\t${h.type}\t${h.id}\tv${h.version}`);
      }
      return 0;
    } finally {
      await store.close();
      await log.close();
    }
  }
  console.error(USAGE);
  return 2;
}

try {
  process.exit(await main(process.argv.slice(2)));
} catch (err) {
  console.error(err instanceof SettingsError ? err.message : `tollgate: ${(err as Error).message}`);
  process.exit(1);
}
