/**
 * Operator commands.
 *
 *   bun run tollgate projections rebuild config   drop the config projection in the StateStore and replay the log
 *   bun run tollgate projections rebuild usage    drop the usage tables in the AnalyticsStore and replay the requests stream
 *   bun run tollgate config history [kind] [id]    print every config change, oldest first
 */
import { loadSettings, SettingsError } from "./config/env.ts";
import { DirLockedError } from "./events/dir-lock.ts";
import { AnalyticsOpenError, openAnalyticsStore, openEventLog, openStateStore } from "./main.ts";
import { rebuildUsage } from "./projections/usage.ts";
import { ENTITY_KINDS } from "./projections/config/model.ts";
import { ConfigService, entityKey, VERSION_KEY } from "./projections/config/service.ts";

const USAGE = `usage:
  tollgate projections rebuild config
  tollgate projections rebuild usage
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
    const log = await openEventLog(settings).catch((err: unknown) => {
      throw err instanceof DirLockedError ? new Error(`${err.message}; a running gateway can rebuild itself: POST /api/v1/admin/projections/usage/rebuild`) : err;
    });
    try {
      let store;
      try {
        store = await openAnalyticsStore(settings);
      } catch (err) {
        throw err instanceof AnalyticsOpenError ? new Error(`${err.message}; a running gateway can rebuild itself: POST /api/v1/admin/projections/usage/rebuild`) : err;
      }
      try {
        const t0 = performance.now();
        const replayed = await rebuildUsage(log, store);
        console.log(`usage projection rebuilt in ${store.kind} (database ${store.database}): ${replayed} requests replayed in ${Math.round(performance.now() - t0)} ms`);
        return 0;
      } finally {
        await store.close();
      }
    } finally {
      await log.close();
    }
  }
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
