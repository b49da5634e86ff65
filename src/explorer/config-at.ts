/**
 * The configuration at a config version, replayed from the config stream with the same `evolve`
 * the live projector folds with (the decider's read side), turned into the same snapshot the
 * request path reads. A version's state never changes, so snapshots are memoized (a few).
 */
import type { ConfigSnapshot } from "../config/snapshot.ts";
import { type EventLog, readBatches } from "../events/event-log.ts";
import { evolve } from "../projections/config/decider.ts";
import { type ConfigEvent, type ConfigState, initialState } from "../projections/config/model.ts";
import type { HistoryEntry } from "../projections/config/service.ts";
import { toSnapshot } from "../projections/config/to-snapshot.ts";
import type { ProviderConfig } from "../providers/types.ts";

export interface ConfigAt {
  state: ConfigState;
  snapshot: ConfigSnapshot;
}

const MEMO_MAX = 32;

export class ConfigHistoryReader {
  #memo = new Map<number, ConfigAt>();

  constructor(
    private readonly log: Pick<EventLog, "read">,
    /** Providers that exist without config (env built-ins such as `echo`). */
    private readonly builtins: () => readonly ProviderConfig[],
  ) {}

  /** The state and snapshot after the first `version` config events (version = log position + 1 of the last). */
  async at(version: number): Promise<ConfigAt> {
    const hit = this.#memo.get(version);
    if (hit) return hit;
    let state = initialState();
    for await (const batch of readBatches(this.log, "config", 0, 0, 1000)) {
      for (const r of batch) {
        if (r.offset >= version) break;
        state = evolve(state, { type: r.event.type as ConfigEvent["type"], payload: r.event.payload as never }, { time: r.event.time, actor: r.event.actor ?? "unknown", position: r.offset });
      }
      if ((batch.at(-1)?.offset ?? 0) + 1 >= version) break;
    }
    // Provider keys are not needed to explain a decision: none are resolved.
    const out = { state, snapshot: toSnapshot(state, this.builtins(), () => undefined) };
    if (this.#memo.size >= MEMO_MAX) this.#memo.delete(this.#memo.keys().next().value!);
    this.#memo.set(version, out);
    return out;
  }

  /** Config history entries at or after `fromVersion` (what changed since a request was decided). */
  async since(fromVersion: number): Promise<HistoryEntry[]> {
    const out: HistoryEntry[] = [];
    for await (const batch of readBatches(this.log, "config", 0, fromVersion, 1000)) {
      for (const r of batch) {
        const p = r.event.payload as { kind: string; id: string; version: number; changes?: Record<string, unknown> };
        out.push({ position: r.offset, time: r.event.time, actor: r.event.actor ?? "unknown", type: r.event.type, kind: p.kind, id: p.id, version: p.version, ...(p.changes ? { changes: p.changes } : {}) });
      }
    }
    return out;
  }
}
