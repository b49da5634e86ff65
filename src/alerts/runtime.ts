/**
 * Alerts at run time: the projection (evaluator, one leader at a time) and the notifier (the
 * `alerts-notify` group), both off the request path, wired to the live config.
 *
 * @example
 * const alerts = startAlerts({ log, store, config: () => configService.state, masterKey });
 * await alerts.stop();
 */
import type { EventLog } from "../events/event-log.ts";
import type { StateStore } from "../stores/state-store.ts";
import type { ConfigState } from "../projections/config/model.ts";
import { decryptSecret } from "../config/secrets.ts";
import type { AlertPayload } from "./book.ts";
import type { Destination } from "./delivery.ts";
import type { AlertRule, KeyInfo } from "./evaluate.ts";
import { AlertNotifier, type NotifierOptions } from "./notifier.ts";
import { AlertProjector, type AlertProjectorOptions } from "./projector.ts";
import type { EventEnvelope } from "../events/envelope.ts";

export interface AlertsDeps {
  log: EventLog;
  store: StateStore;
  /** The current config state (rules, destinations, keys). */
  config: () => ConfigState;
  masterKey?: Buffer | undefined;
  projector?: Partial<AlertProjectorOptions>;
  notifier?: Partial<NotifierOptions>;
  /** Run the evaluator (default true) / the notifier (default true). */
  evaluate?: boolean;
  notify?: boolean;
  /** How often to look for a first destination before the notifier starts, ms (default 1000). */
  notifyPollMs?: number;
  say?: (message: string) => void;
}

export interface AlertsRuntime {
  projector: AlertProjector | undefined;
  /** Started once a destination exists. */
  readonly notifier: AlertNotifier | undefined;
  stop(): Promise<void>;
}

export function rulesOf(state: ConfigState): AlertRule[] {
  return Object.values(state.entities.alert_rule).map((e) => ({ id: e.id, fields: e.fields }));
}

export function keysOf(state: ConfigState): KeyInfo[] {
  return Object.values(state.entities.key).map((k) => ({ id: k.id, tenant: k.fields.tenant, revoked: Boolean(k.fields.revoked_at), ...(k.fields.expires_at ? { expiresAt: k.fields.expires_at } : {}), ...(k.fields.name ? { name: k.fields.name } : {}) }));
}

/** A destination entity with its secret opened (master key or env variable). */
export function destinationOf(state: ConfigState, id: string, masterKey: Buffer | undefined): Destination | undefined {
  const d = state.entities.alert_destination[id];
  if (!d) return undefined;
  const f = d.fields;
  let secret: string | undefined;
  if (f.secret_enc && masterKey) secret = decryptSecret(f.secret_enc, masterKey);
  else if (f.secret_env) secret = process.env[f.secret_env];
  return { id, kind: f.kind, url: f.url, ...(secret ? { secret } : {}) };
}

/** Where an alert goes: its rule's destinations, else every enabled destination of its scope (global or its tenant). */
export function destinationsFor(state: ConfigState, alert: AlertPayload, e: EventEnvelope, masterKey: Buffer | undefined): Destination[] {
  const rule = state.entities.alert_rule[alert.rule];
  const ids = rule?.fields.destinations ?? Object.values(state.entities.alert_destination).filter((d) => !d.fields.tenant || d.fields.tenant === (alert.tenant ?? e.tenant)).map((d) => d.id);
  return ids.flatMap((id) => {
    const d = state.entities.alert_destination[id];
    if (!d?.fields.enabled) return [];
    const dest = destinationOf(state, id, masterKey);
    return dest ? [dest] : [];
  });
}

export function startAlerts(deps: AlertsDeps): AlertsRuntime {
  const say = deps.say ?? ((m: string) => console.warn(m));
  let lastWarn = 0;
  const warn = (m: string) => {
    if (Date.now() - lastWarn > 10_000) {
      lastWarn = Date.now();
      say(m);
    }
  };
  const projector = deps.evaluate === false ? undefined : new AlertProjector(deps.log, deps.store, {
    rules: () => rulesOf(deps.config()),
    keys: () => keysOf(deps.config()),
    onError: (err) => warn(`[alerts] evaluation failed, will retry: ${(err as Error).message}`),
    ...deps.projector,
  }).start();
  // The notifier joins its consumer group only once a destination exists (no idle Kafka member
  // on gateways that use no alerts); from then on it runs until stop.
  let notifier: AlertNotifier | undefined;
  const makeNotifier = () =>
    new AlertNotifier(deps.log, {
      destinations: (alert, e) => destinationsFor(deps.config(), alert, e, deps.masterKey),
      onDelivery: (d) => {
        if (!d.ok) warn(`[alerts] delivery ${d.id} to ${d.destination} failed (attempt ${d.attempt}: ${d.status ?? d.error}); retrying`);
      },
      onError: (err) => warn(`[alerts] reading the alerts stream failed, will retry: ${(err as Error).message}`),
      ...deps.notifier,
    }).start();
  const anyDestination = () => Object.keys(deps.config().entities.alert_destination).length > 0;
  let waiting: ReturnType<typeof setInterval> | undefined;
  if (deps.notify !== false) {
    if (anyDestination()) notifier = makeNotifier();
    else {
      waiting = setInterval(() => {
        if (!anyDestination()) return;
        clearInterval(waiting);
        waiting = undefined;
        notifier = makeNotifier();
      }, deps.notifyPollMs ?? 1000);
      waiting.unref?.();
    }
  }
  return {
    projector,
    get notifier() {
      return notifier;
    },
    async stop() {
      if (waiting) clearInterval(waiting);
      await Promise.all([projector?.stop(), notifier?.stop()]);
    },
  };
}
