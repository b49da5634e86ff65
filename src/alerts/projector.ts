/**
 * The alert projection: the thin shell around the pure evaluator. It reads the `requests` stream
 * (every partition), folds the events into the windows, evaluates the rules once per tick and
 * appends each transition to the `alerts` stream as `alert.fired` / `alert.resolved`.
 *
 * Exactly once, across instances and restarts (docs/alerts.md "Exactly once"):
 * - one evaluator at a time: the instance holding the lock `alerts:leader` in the StateStore
 *   (Redis in a fleet) evaluates; the others wait and take over when its lease lapses;
 * - the open alerts are the fold of the `alerts` stream (book.ts), re-read at every tick before
 *   deciding, so an alert that is open is never fired again, whoever fired it;
 * - every alert event carries the requests offsets it was decided at (`watermark`). A restarted
 *   evaluator replays the window it needs (from the offsets committed as group
 *   `<group>.window`) with decisions switched off until it passes the highest watermark in the
 *   book: what was decided before the crash is not decided again (a fire-then-resolve pair is
 *   not replayed into a second fire).
 * - offsets (`<group>`, `<group>.window`) are committed after the transitions are appended.
 */
import type { EventEnvelope } from "../events/envelope.ts";
import { makeEvent } from "../events/envelope.ts";
import type { EventLog } from "../events/event-log.ts";
import { readBatches } from "../events/event-log.ts";
import type { StateStore } from "../stores/state-store.ts";
import { AlertBook, type AlertPayload } from "./book.ts";
import { type AlertRule, evaluate, type KeyInfo, type Transition } from "./evaluate.ts";
import { AlertWindows } from "./windows.ts";

export const ALERTS_GROUP = "alerts-projection";
const LOCK_KEY = "alerts:leader";
const HOUR = 3_600_000;
/** The evaluator replays this much on a restart (the spike rule's 7-day baseline + its last hour + 1 h). */
const REPLAY_MS = (24 * 7 + 2) * HOUR;

/** The events the windows use (others are skipped without being parsed on the file log). */
export const ALERT_INPUT_TYPES = ["provider.attempt.succeeded", "provider.attempt.failed", "request.completed", "guardrail.blocked", "budget.reserved", "budget.exceeded", "circuit.opened", "circuit.closed"];

export interface AlertProjectorOptions {
  /** The enabled rules now (from the config snapshot). */
  rules: () => readonly AlertRule[];
  /** The keys now (key-expiry rules). */
  keys?: () => readonly KeyInfo[];
  group?: string;
  /** Evaluate every this many ms (default 1000). */
  tickMs?: number;
  /** Leader lease, ms (default 10000; renewed every tick). */
  leaseMs?: number;
  /** Records per partition read (default 2000). */
  maxBatch?: number;
  /** The clock (tests). */
  now?: () => number;
  onError?: (err: unknown) => void;
  onTransition?: (t: Transition, e: EventEnvelope) => void;
}

export class AlertProjector {
  readonly group: string;
  private stopped = false;
  private token: string | null = null;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private book = new AlertBook();
  private windows = new AlertWindows();
  private positions: number[] = [];
  private boundary: number[] = [];
  private alertsRead = 0;
  /** Per partition: first offset of each event-time hour seen (for the `.window` offsets). */
  private hourMarks: Array<Array<[number, number]>> = [];
  private lastEval = 0;
  /** Transitions appended by this instance (tests, /metrics). */
  appended = 0;

  constructor(
    private readonly log: EventLog,
    private readonly store: StateStore,
    private readonly opts: AlertProjectorOptions,
  ) {
    this.group = opts.group ?? ALERTS_GROUP;
  }

  start(): this {
    this.loop ??= this.run();
    return this;
  }

  get leader(): boolean {
    return this.token !== null;
  }

  /** The open alerts as this instance last folded them. */
  openAlerts() {
    return [...this.book.open.values()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    if (this.token) await this.store.releaseLock(LOCK_KEY, this.token).catch(() => {});
    this.token = null;
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  private async run(): Promise<void> {
    const tick = this.opts.tickMs ?? 1000;
    while (!this.stopped) {
      let busy = false;
      try {
        // No enabled rule: nothing to evaluate, nothing read (the first rule replays the window from the committed offsets).
        if (!this.opts.rules().some((r) => r.fields.enabled)) await this.resign();
        else if (await this.lead()) busy = await this.step();
      } catch (err) {
        this.opts.onError?.(err);
      }
      if (!busy && !this.stopped) await new Promise<void>((r) => ((this.wake = r), setTimeout(r, tick)));
    }
  }

  private async resign(): Promise<void> {
    if (!this.token) return;
    const token = this.token;
    this.token = null;
    await this.store.releaseLock(LOCK_KEY, token);
  }

  /** Take or keep the lease; on taking it, rebuild from the log. */
  private async lead(): Promise<boolean> {
    const lease = this.opts.leaseMs ?? 10_000;
    if (this.token) {
      if ((await this.store.get(LOCK_KEY)) === this.token) {
        await this.store.set(LOCK_KEY, this.token, { ttlMs: lease });
        return true;
      }
      this.token = null; // lost it (paused past the lease): start over when we get it back
    }
    this.token = await this.store.acquireLock(LOCK_KEY, lease);
    if (!this.token) return false;
    await this.rebuild();
    return true;
  }

  /** Fold the whole alerts stream, then plan the replay of the requests window. */
  private async rebuild(): Promise<void> {
    this.book = new AlertBook();
    this.windows = new AlertWindows();
    this.alertsRead = 0;
    this.lastCommitted.clear();
    await this.foldAlerts();
    const [committed, windowStart] = await Promise.all([this.log.committed("requests", this.group), this.log.committed("requests", `${this.group}.window`)]);
    const n = this.log.partitions("requests");
    this.positions = Array.from({ length: n }, (_, p) => Math.min(windowStart[p] ?? 0, committed[p] ?? 0));
    this.boundary = Array.from({ length: n }, (_, p) => Math.max(committed[p] ?? 0, this.book.watermark[p] ?? 0));
    this.hourMarks = Array.from({ length: n }, () => []);
  }

  private async foldAlerts(): Promise<void> {
    for await (const batch of readBatches(this.log, "alerts", 0, this.alertsRead)) {
      for (const r of batch) this.book.apply(r.event);
      this.alertsRead = batch.at(-1)!.offset + 1;
    }
  }

  /** Read, fold, evaluate, append, commit. Returns whether a partition had a full batch (read again at once). */
  private async step(): Promise<boolean> {
    const max = this.opts.maxBatch ?? 2000;
    let full = false;
    for (let p = 0; p < this.positions.length; p++) {
      const batch = await this.log.read("requests", p, this.positions[p]!, max);
      if (batch.length === max) full = true;
      for (const r of batch) {
        this.windows.observe(r.event);
        this.mark(p, r.event.time, r.offset);
      }
      if (batch.length) this.positions[p] = batch.at(-1)!.offset + 1;
    }
    await this.foldAlerts(); // someone else's decisions (a previous leader's last appends) count
    const catchingUp = this.positions.some((o, p) => o < (this.boundary[p] ?? 0));
    const now = this.now();
    this.windows.prune(now);
    // Behind (a full batch): read on before deciding, but never go more than 5 s without a decision.
    if (!catchingUp && (!full || now - this.lastEval > 5000)) {
      this.lastEval = now;
      const transitions = evaluate(this.windows, this.opts.rules(), this.book.openKeys(), { nowMs: now, keys: this.opts.keys?.() ?? [] });
      if (transitions.length) await this.append(transitions);
    }
    await this.commit(now);
    return full;
  }

  private async append(transitions: Transition[]): Promise<void> {
    const events = transitions.map((t) => {
      const { kind, ...rest } = t;
      const open = this.book.get(t.rule, t.scope);
      const payload: AlertPayload = { ...rest, episode: kind === "fired" ? this.book.nextEpisode(t.rule, t.scope) : (open?.episode ?? 0), watermark: [...this.positions], ...(kind === "resolved" && open ? { firedId: open.firedId } : {}) };
      return makeEvent({ type: `alert.${kind}`, tenant: t.tenant ?? "default", actor: "alerts", payload: payload as unknown as Record<string, unknown> });
    });
    await this.log.append("alerts", events.map((event) => ({ key: "alerts", event })));
    // Our own appends are folded when read back (foldAlerts), in log order with anyone else's.
    await this.foldAlerts();
    this.appended += events.length;
    events.forEach((e, i) => this.opts.onTransition?.(transitions[i]!, e));
  }

  private mark(p: number, time: string, offset: number): void {
    const hour = Math.floor(Date.parse(time) / HOUR);
    const marks = this.hourMarks[p]!;
    const last = marks.at(-1);
    if (!last || hour > last[0]) marks.push([hour, offset]);
  }

  private async commit(now: number): Promise<void> {
    // A monthly customer budget needs its whole month back after a restart.
    const month = this.opts.rules().some((r) => r.fields.kind === "budget" && r.fields.budget?.startsWith("customer:") && (r.fields.period ?? "month") === "month");
    const d = new Date(now);
    const from = month ? Math.min(now - REPLAY_MS, Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)) : now - REPLAY_MS;
    const oldest = Math.floor(from / HOUR);
    const commits: Promise<void>[] = [];
    for (let p = 0; p < this.positions.length; p++) {
      const marks = this.hourMarks[p]!;
      while (marks.length > 1 && marks[1]![0] <= oldest) marks.shift();
      const pos = this.positions[p]!;
      // A replay never rewinds the committed offset: it only moves past the boundary.
      commits.push(this.commitIfMoved(this.group, p, Math.max(pos, this.boundary[p] ?? 0)));
      commits.push(this.commitIfMoved(`${this.group}.window`, p, marks[0] ? Math.min(marks[0][1], pos) : pos));
    }
    await Promise.all(commits);
  }

  private readonly lastCommitted = new Map<string, number>();
  private async commitIfMoved(group: string, p: number, offset: number): Promise<void> {
    const key = `${group}/${p}`;
    if (this.lastCommitted.get(key) === offset) return;
    await this.log.commit("requests", group, p, offset);
    this.lastCommitted.set(key, offset);
  }
}
