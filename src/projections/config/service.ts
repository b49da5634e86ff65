/**
 * The config shell: commands → decide → append to the `config` stream; a projector that tails
 * the stream, folds it (evolve) into the in-process state, mirrors it into the StateStore
 * (idempotently, keyed by log position) and publishes a new snapshot. Every instance runs one,
 * so every instance converges on the same state; a fresh instance or a flushed store is rebuilt
 * by replaying the stream from offset 0.
 */
import { makeEvent } from "../../events/envelope.ts";
import { type EventLog, readBatches, type StoredEvent } from "../../events/event-log.ts";
import { GatewayError } from "../../pipeline/errors.ts";
import type { HashWrite, StateStore } from "../../stores/state-store.ts";
import type { PluginCatalog } from "./plugins.ts";
import { decide, type DecideEnv, evolve } from "./decider.ts";
import { type ConfigCommand, type ConfigEvent, type ConfigState, ENTITY_KINDS, type EntityKind, initialState } from "./model.ts";
import { actorRecord, currentActor } from "../../identity/actor.ts";
import type { EventEnvelope } from "../../events/envelope.ts";

export const CONFIG_TENANT = "_config";
const LOCK = "config:command-lock";
export const VERSION_KEY = "config:version";
export const entityKey = (kind: string) => `config:${kind}`;

export interface HistoryEntry {
  position: number;
  time: string;
  actor: string;
  type: string;
  kind: string;
  id: string;
  version: number;
  changes?: Record<string, unknown>;
  fields?: Record<string, unknown>;
  /** Who exactly (identity, role, credential, IP, user agent, request id), when known (issue 28). */
  by?: Record<string, unknown>;
}

export interface ConfigServiceOptions {
  pollMs?: number;
  /** Providers that exist without config (echo, OPENAI_API_KEY): aliases and routes may name them. */
  builtinProviders?: readonly string[];
  /** Loaded operator plugins (settings schemas), so `plugin` entities are validated. */
  plugins?: PluginCatalog;
  /** Called after the state changed (new events applied). */
  onChange?: (state: ConfigState) => void;
}

export class ConfigService {
  private current: ConfigState = initialState();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private catching: Promise<void> | undefined;
  private stopped = false;
  private readonly env: DecideEnv;

  constructor(
    private readonly log: EventLog,
    private readonly store: StateStore,
    private readonly opts: ConfigServiceOptions = {},
  ) {
    this.env = { builtinProviders: new Set(opts.builtinProviders ?? []), ...(opts.plugins ? { plugins: opts.plugins } : {}) };
  }

  get state(): ConfigState {
    return this.current;
  }

  /** Replay the whole stream, rebuild the store if it is behind, then keep tailing. */
  async start(): Promise<void> {
    await this.catchUp();
    await this.rebuildStoreIfBehind();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.catching;
  }

  /**
   * Execute a command: serialized across instances by a lock in the StateStore, decided against
   * the state caught up to the end of the log, appended, and applied before returning.
   */
  async execute(cmd: ConfigCommand, actor: string): Promise<{ events: HistoryEntry[]; version: number }> {
    return this.withLock(async () => {
      await this.catchUp();
      const events = decide(this.current, cmd, this.env);
      if (events.length === 0) return { events: [], version: this.current.version };
      // The admin request's full actor (src/identity/actor.ts), when this command comes from one.
      const who = currentActor();
      const by = who && who.name === actor ? { actor: actorRecord(who) } : {};
      const envelopes = events.map((e) => makeEvent({ type: e.type, tenant: CONFIG_TENANT, actor, ...(who?.requestId && by.actor ? { requestId: who.requestId } : {}), payload: { ...e.payload, ...by } }));
      const results = await this.log.append("config", envelopes.map((event, i) => ({ key: `${events[i]!.payload.kind}:${events[i]!.payload.id}`, event })));
      await this.catchUp();
      return {
        events: envelopes.map((ev, i) => toHistory(results[i]!.offset, ev.time, actor, events[i]!)),
        version: this.current.version,
      };
    });
  }

  /** Run several commands under one lock only if the stream is empty (first start). */
  async bootstrap(commands: ConfigCommand[], actor = "bootstrap"): Promise<boolean> {
    if (commands.length === 0) return false;
    const ran = await this.withLock(async () => {
      await this.catchUp();
      if (this.current.version > 0) return false;
      for (const cmd of commands) {
        const events = decide(this.current, cmd, this.env);
        const envelopes = events.map((e) => makeEvent({ type: e.type, tenant: CONFIG_TENANT, actor, payload: { ...e.payload } }));
        await this.log.append("config", envelopes.map((event, i) => ({ key: `${events[i]!.payload.kind}:${events[i]!.payload.id}`, event })));
        await this.catchUp();
      }
      return true;
    });
    return ran;
  }

  /** Append an audit-only fact (failed sign-in, refusal): no lock, no entity changes (evolve skips it). */
  async appendAudit(event: EventEnvelope): Promise<void> {
    await this.log.append("config", [{ key: `audit:${event.id}`, event }]);
  }

  /** Every raw config-stream record, oldest first (the audit view reads them). */
  async records(): Promise<StoredEvent[]> {
    return this.readAll();
  }

  /** Every config change, oldest first (optionally one entity kind / id). */
  async history(filter: { kind?: string; id?: string; limit?: number } = {}): Promise<HistoryEntry[]> {
    const out: HistoryEntry[] = [];
    for (const r of await this.readAll()) {
      const e = r.event.payload as unknown as ConfigEvent["payload"];
      if (!ENTITY_KINDS.includes(e.kind as EntityKind)) continue; // audit-only facts
      if (filter.kind && e.kind !== filter.kind) continue;
      if (filter.id && e.id !== filter.id) continue;
      out.push(toHistory(r.offset, r.event.time, r.event.actor ?? "unknown", { type: r.event.type as ConfigEvent["type"], payload: e }));
    }
    return filter.limit ? out.slice(-filter.limit) : out;
  }

  /** The configuration as it was at `at`: a time (events with time ≤ at) or a config version (events at positions < version). */
  async stateAt(at: Date | { version: number } | { time: Date }): Promise<ConfigState> {
    const time = at instanceof Date ? at : "time" in at ? at.time : undefined;
    let state = initialState();
    for (const r of await this.readAll()) {
      if (time ? Date.parse(r.event.time) > time.getTime() : r.offset >= (at as { version: number }).version) break;
      state = evolve(state, { type: r.event.type as ConfigEvent["type"], payload: r.event.payload as never }, { time: r.event.time, actor: r.event.actor ?? "unknown", position: r.offset });
    }
    return state;
  }

  /** Read and apply everything past our position (one at a time: concurrent callers share it). */
  catchUp(): Promise<void> {
    if (!this.catching) {
      this.catching = this.pull().finally(() => {
        this.catching = undefined;
      });
    }
    return this.catching;
  }

  private async pull(): Promise<void> {
    if (this.storeBehind) await this.rebuildStoreIfBehind().then(() => (this.storeBehind = false), () => {});
    for (;;) {
      const batch = await this.log.read("config", 0, this.current.version, 500);
      if (batch.length === 0) return;
      for (const r of batch) await this.apply(r);
      this.opts.onChange?.(this.current);
    }
  }

  /** True while the StateStore mirror could not be written (e.g. Redis down): retried on every catch-up. */
  private storeBehind = false;

  private async apply(r: StoredEvent): Promise<void> {
    const event = { type: r.event.type as ConfigEvent["type"], payload: r.event.payload as unknown as ConfigEvent["payload"] };
    this.current = evolve(this.current, event, { time: r.event.time, actor: r.event.actor ?? "unknown", position: r.offset });
    if (this.storeBehind) return; // caught up later by rebuildStoreIfBehind
    try {
      await this.store.applyVersioned(VERSION_KEY, r.offset + 1, storeWrites(event));
    } catch (err) {
      // The in-process snapshot (what requests use) must not wait on the store mirror.
      this.storeBehind = true;
      console.warn(`[config] state store mirror behind (will catch up): ${(err as Error).message}`);
    }
  }

  /** A flushed or new store gets every event again (applyVersioned skips what it has). */
  private async rebuildStoreIfBehind(): Promise<void> {
    const stored = Number((await this.store.get(VERSION_KEY)) ?? -1);
    if (stored >= this.current.version) return;
    for (const r of await this.readAll()) {
      if (r.offset + 1 <= stored) continue;
      const event = { type: r.event.type as ConfigEvent["type"], payload: r.event.payload as unknown as ConfigEvent["payload"] };
      await this.store.applyVersioned(VERSION_KEY, r.offset + 1, storeWrites(event));
    }
  }

  private async readAll(): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    for await (const batch of readBatches(this.log, "config", 0)) out.push(...batch);
    return out;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.catchUp()
        .catch((err) => console.error("[config] catch-up failed:", (err as Error).message))
        .finally(() => this.schedule());
    }, this.opts.pollMs ?? 200);
  }

  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + 10_000;
    let token: string | null = null;
    while (!(token = await this.store.acquireLock(LOCK, 15_000))) {
      if (Date.now() > deadline) throw new GatewayError({ status: 503, code: "config_busy", message: "Another config change is in progress; retry" });
      await Bun.sleep(10 + Math.random() * 20);
    }
    try {
      return await fn();
    } finally {
      await this.store.releaseLock(LOCK, token);
    }
  }
}

function storeWrites(e: ConfigEvent): HashWrite[] {
  const { kind, id } = e.payload;
  if (!ENTITY_KINDS.includes(kind)) return [];
  if (e.type.endsWith(".deleted")) return [{ op: "hdel", key: entityKey(kind), field: id }];
  return [{ op: "hset", key: entityKey(kind), field: id, value: JSON.stringify({ version: e.payload.version, fields: e.payload.fields }) }];
}

function toHistory(position: number, time: string, actor: string, e: ConfigEvent): HistoryEntry {
  const h: HistoryEntry = { position, time, actor, type: e.type, kind: e.payload.kind, id: e.payload.id, version: e.payload.version };
  if (e.payload.changes) h.changes = e.payload.changes;
  if (e.payload.fields) h.fields = e.payload.fields;
  const by = (e.payload as { actor?: Record<string, unknown> }).actor;
  if (by) h.by = by;
  return h;
}
