/**
 * `tollgate projections run alerts`: the alert evaluator and notifier in their own process (the
 * fleet's projector). Several may run: one evaluates at a time (the lock `alerts:leader` in Redis),
 * one delivers at a time (the `alerts-notify` group on the one-partition `alerts` stream).
 */
import type { Settings } from "../config/env.ts";
import { deriveKey } from "../config/secrets.ts";
import { openEventLog, openStateStore } from "../main.ts";
import { ConfigService } from "../projections/config/service.ts";
import { startAlerts } from "./runtime.ts";

export async function runAlertsProjector(settings: Settings): Promise<number> {
  const log = await openEventLog(settings);
  const store = await openStateStore(settings);
  if (log.kind === "kafka" && store.kind === "memory") console.warn("[alerts] Kafka without REDIS_URL: run one alert projector only (the leader lock is per process)");
  const config = new ConfigService(log, store, { builtinProviders: ["echo", "openai"] });
  await config.start();
  const alerts = startAlerts({ log, store, config: () => config.state, masterKey: settings.masterKey ? deriveKey(settings.masterKey) : undefined, say: (m) => console.warn(m) });
  let stop!: (signal: string) => void;
  const stopped = new Promise<string>((resolve) => (stop = resolve));
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  console.log(`alert projection running (${log.kind}, lock in ${store.kind}); stop with SIGTERM`);
  const signal = await stopped;
  await alerts.stop();
  await config.stop();
  await store.close();
  await log.close();
  console.log(`alert projection stopped (${signal})`);
  return 0;
}
