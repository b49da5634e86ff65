/**
 * OutboxEventLog: an EventLog that never makes the gateway wait on a broker that is down or
 * slow. Appends go straight to the inner log (Kafka) while it answers within `appendTimeoutMs`;
 * when it does not, they go to a local durable outbox (a FileEventLog) and a forwarder moves
 * them to the inner log in order once it is back. While the outbox holds anything, new appends
 * queue behind it, so order per partition key is kept. A batch that timed out may still reach
 * the broker later: it is then delivered twice with the same event ids (consumers dedupe by id).
 * Reads, consumers and offsets are the inner log's.
 *
 * With `writeAhead` (how the gateway runs on Kafka) every append goes to the outbox first and
 * resolves once written there (handed to the OS; fsync follows on the outbox's interval): an
 * answered request is on local disk before its answer, whatever the broker does, and the
 * request path never waits on Kafka. The forwarder then moves the events to Kafka in order and
 * deletes forwarded outbox segments. After a crash, the events the forwarder had sent but not
 * yet recorded as sent are recognised by id in the tail of the topics and not sent twice.
 */
import type { StreamName } from "./envelope.ts";
import { STREAMS } from "./envelope.ts";
import type { AppendInput, AppendResult, ConsumeOptions, EventLog, StoredEvent, Subscription } from "./event-log.ts";
import type { FileEventLog } from "./file-log.ts";
import { deadLetterRecord } from "./deadletter.ts";
import { RecordRefusedError } from "./refused.ts";
import { withTimeout } from "../util/with-timeout.ts";

const FORWARDER = "outbox-forwarder";
/** Records per inner partition read back at open to recognise a batch sent just before a crash. */
const DEDUP_TAIL = 2000;
/** Write-ahead: how often the forwarder's progress is stored (and forwarded segments deleted), ms. */
const PERSIST_MS = 100;
/**
 * Write-ahead: how long the forwarder waits after a first append before sending, so one produce
 * carries every event of that span instead of one produce per request (each costs the gateway
 * CPU, and at low concurrency nothing else batches them). Events are on local disk meanwhile.
 */
const FORWARD_LINGER_MS = 20;

export interface OutboxOptions {
  /** How long a direct append may take before the outbox takes over (default 2000 ms). */
  appendTimeoutMs?: number;
  /** Every append goes through the outbox (see the class doc). Default false: only when the inner log is slow or down. */
  writeAhead?: boolean;
  /** Write-ahead: ms the forwarder gathers appends before sending (default FORWARD_LINGER_MS). */
  forwardLingerMs?: number;
  /** Max events forwarded per inner append (default 500). */
  batch?: number;
  onForwardError?: (err: unknown) => void;
  /** A record the broker refused for good went to the dead-letter stream (the outbox moved on). */
  onDeadLetter?: (info: { stream: StreamName; reason: string; bytes: number }) => void;
}

export class OutboxEventLog implements EventLog {
  readonly kind: EventLog["kind"];
  /** Events in the outbox not yet forwarded. */
  backlog = 0;
  /** Counters for /metrics. */
  readonly stats = { direct: 0, outboxed: 0, forwarded: 0, fallbacks: 0, deadLettered: 0 };
  private forwarding: Promise<void> | undefined;
  private closed = false;
  /** Ids of events already in the inner log's tail when the outbox opened with a backlog. */
  private alreadySent: Set<string> | undefined;
  /**
   * Write-ahead: what was just written to the outbox, per `stream/partition`, so the forwarder
   * sends it from memory instead of reading and parsing it back (the file is for crashes).
   */
  private readonly recent = new Map<string, StoredEvent[]>();
  /** Write-ahead: forwarded up to here (next offset) but not yet stored as the group's offset. */
  private readonly unsaved = new Map<string, { stream: StreamName; partition: number; next: number }>();
  private persistTimer: ReturnType<typeof setTimeout> | undefined;
  private lastPersist = 0;
  /** Ends the forwarder's linger early (close). */
  private endLinger: (() => void) | undefined;

  private constructor(
    private readonly inner: EventLog,
    private readonly outbox: FileEventLog,
    private readonly opts: OutboxOptions,
  ) {
    this.kind = inner.kind;
  }

  /** Wrap `inner`; forwards whatever a previous run left in the outbox. */
  static async open(inner: EventLog, outbox: FileEventLog, opts: OutboxOptions = {}): Promise<OutboxEventLog> {
    const log = new OutboxEventLog(inner, outbox, opts);
    for (const stream of STREAMS) {
      const [ends, done] = await Promise.all([outbox.endOffsets(stream), outbox.committed(stream, FORWARDER)]);
      ends.forEach((end, p) => (log.backlog += end - (done[p] ?? 0)));
    }
    if (log.backlog > 0 && opts.writeAhead) log.alreadySent = await tailIds(inner);
    if (log.backlog > 0) log.kick();
    return log;
  }

  partitions(stream: StreamName): number {
    return this.inner.partitions(stream);
  }

  async append(stream: StreamName, records: AppendInput[]): Promise<AppendResult[]> {
    if (this.closed) throw new Error("event log is closed");
    if (this.backlog === 0 && !this.opts.writeAhead) {
      try {
        const result = await logTimeout(this.inner.append(stream, records), this.opts.appendTimeoutMs ?? 2000);
        this.stats.direct += records.length;
        return result;
      } catch {
        this.stats.fallbacks++;
      }
    }
    this.backlog += records.length;
    let stored: AppendResult[];
    try {
      stored = await this.outbox.append(stream, records);
    } catch (err) {
      this.backlog -= records.length;
      throw err;
    }
    if (this.opts.writeAhead) {
      records.forEach((r, i) => {
        const { partition, offset } = stored[i]!;
        const k = `${stream}/${partition}`;
        let q = this.recent.get(k);
        if (!q) this.recent.set(k, (q = []));
        q.push({ stream, partition, offset, key: r.key, event: r.event });
      });
    }
    this.stats.outboxed += records.length;
    this.kick();
    // Not yet in the inner log: positions there are unknown.
    return records.map(() => ({ partition: -1, offset: -1 }));
  }

  read(stream: StreamName, partition: number, offset: number, max?: number): Promise<StoredEvent[]> {
    return this.inner.read(stream, partition, offset, max);
  }
  endOffsets(stream: StreamName): Promise<number[]> {
    return this.inner.endOffsets(stream);
  }
  committed(stream: StreamName, group: string): Promise<number[]> {
    return this.inner.committed(stream, group);
  }
  commit(stream: StreamName, group: string, partition: number, offset: number): Promise<void> {
    return this.inner.commit(stream, group, partition, offset);
  }
  consume(stream: StreamName, group: string, handler: (batch: StoredEvent[]) => Promise<void>, opts?: ConsumeOptions): Subscription {
    return this.inner.consume(stream, group, handler, opts);
  }
  health(): Promise<{ ok: boolean; detail?: string }> {
    return this.inner.health();
  }

  /** Wait until the outbox is empty (tests, shutdown). */
  async drained(timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.backlog > 0 && Date.now() < deadline) await Bun.sleep(20);
    return this.backlog === 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.endLinger?.(); // what it gathered still goes out now
    // Drain what is left while the broker takes it: a stopped instance's outbox may never be
    // opened again (a replaced pod, a new volume). Only a failing broker leaves it on disk.
    if (this.backlog > 0) this.kick();
    await this.forwarding;
    if (this.persistTimer) clearTimeout(this.persistTimer);
    await this.persist().catch((err) => this.opts.onForwardError?.(err));
    await this.outbox.close();
    await this.inner.close();
  }

  private kick(): void {
    if (this.forwarding) return;
    this.forwarding = this.forward().finally(() => {
      this.forwarding = undefined;
      if (this.backlog > 0 && !this.closed) this.kick();
    });
  }

  /** Move everything in the outbox to the inner log, in order, retrying with backoff. */
  private async forward(): Promise<void> {
    let backoff = 100;
    for (;;) {
      // Gather appends first (unless a full batch is waiting); closed while lingering: one last pass.
      if (this.backlog < (this.opts.batch ?? 500)) await this.linger();
      if (this.backlog === 0) break;
      let moved = 0;
      try {
        for (const stream of STREAMS) {
          const done = await this.outbox.committed(stream, FORWARDER);
          for (let p = 0; p < this.outbox.partitions(stream); p++) {
            const from = this.unsaved.get(`${stream}/${p}`)?.next ?? done[p] ?? 0;
            const batch = this.fromMemory(stream, p, from) ?? (await this.outbox.read(stream, p, from, this.opts.batch ?? 500));
            if (batch.length === 0) continue;
            const sent = this.alreadySent;
            const todo = sent ? batch.filter((r) => !sent.has(r.event.id)) : batch;
            if (todo.length > 0) await this.send(stream, todo);
            const next = batch.at(-1)!.offset + 1;
            if (this.opts.writeAhead) this.saveSoon(stream, p, next);
            else await this.outbox.commit(stream, FORWARDER, p, next);
            this.backlog -= batch.length;
            this.stats.forwarded += batch.length;
            moved += batch.length;
          }
        }
        backoff = 100;
      } catch (err) {
        this.opts.onForwardError?.(err);
        if (this.closed) break; // the broker fails while we stop: the rest stays in the outbox, forwarded at the next start
        await Bun.sleep(backoff);
        backoff = Math.min(backoff * 2, 2000);
      }
      if (moved === 0 && this.backlog > 0) {
        if (this.closed) break; // nothing more to read while stopping
        await Bun.sleep(10); // appends still landing in the outbox
      }
    }
    if (this.backlog === 0) this.alreadySent = undefined; // the backlog found at open is through
  }

  /**
   * Send records to the inner log, in order. A record the broker refuses for good (too large,
   * invalid: RecordRefusedError) goes to the dead-letter stream instead, and the rest go on: it
   * must not hold back every later event forever. Other errors (broker down) throw: retried.
   */
  private async send(stream: StreamName, records: StoredEvent[]): Promise<void> {
    const timeout = this.opts.appendTimeoutMs ?? 2000;
    try {
      await logTimeout(this.inner.append(stream, records.map((r) => ({ key: r.key, event: r.event }))), timeout);
      return;
    } catch (err) {
      if (!(err instanceof RecordRefusedError)) throw err;
      if (records.length === 1) return this.deadLetter(stream, records[0]!, err);
      if (err.index === undefined) {
        // Refused as a whole: find the culprit(s) one by one.
        for (const r of records) await this.send(stream, [r]);
        return;
      }
      // Nothing of the batch was sent (the size check runs first): before, the refused one, after.
      if (err.index > 0) await this.send(stream, records.slice(0, err.index));
      await this.deadLetter(stream, records[err.index]!, err);
      if (err.index + 1 < records.length) await this.send(stream, records.slice(err.index + 1));
    }
  }

  private async deadLetter(stream: StreamName, r: StoredEvent, err: RecordRefusedError): Promise<void> {
    const timeout = this.opts.appendTimeoutMs ?? 2000;
    const raw = JSON.stringify(r.event);
    const input = { reason: `the broker refused the record (${err.reason}): ${err.message}`, source: { stream, partition: r.partition, offset: r.offset }, raw, key: r.key };
    try {
      await logTimeout(this.inner.append("deadletter", [deadLetterRecord(input)]), timeout);
    } catch (again) {
      if (!(again instanceof RecordRefusedError)) throw again;
      // Even the dead letter (raw cut at DEADLETTER_MAX_RAW_BYTES) is too much for this broker: record it without the raw value.
      await logTimeout(this.inner.append("deadletter", [deadLetterRecord({ ...input, raw: null })]), timeout);
    }
    this.stats.deadLettered++;
    this.opts.onDeadLetter?.({ stream, reason: err.reason, bytes: Buffer.byteLength(raw) });
  }

  /** Write-ahead: wait FORWARD_LINGER_MS (or until close); true when it waited. */
  private async linger(): Promise<boolean> {
    const ms = this.opts.writeAhead ? (this.opts.forwardLingerMs ?? FORWARD_LINGER_MS) : 0;
    if (ms <= 0 || this.closed) return false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.endLinger?.(), ms);
      this.endLinger = () => {
        clearTimeout(timer);
        this.endLinger = undefined;
        resolve();
      };
    });
    return true;
  }

  /** The next contiguous records from `from` held in memory, or undefined (read the file). */
  private fromMemory(stream: StreamName, partition: number, from: number): StoredEvent[] | undefined {
    const q = this.recent.get(`${stream}/${partition}`);
    if (!q) return undefined;
    let drop = 0;
    while (drop < q.length && q[drop]!.offset < from) drop++;
    if (drop) q.splice(0, drop);
    if (q[0]?.offset !== from) return undefined;
    const max = this.opts.batch ?? 500;
    let n = 1;
    while (n < q.length && n < max && q[n]!.offset === from + n) n++;
    return q.splice(0, n);
  }

  /**
   * Write-ahead: store the forwarder's progress at most every PERSIST_MS (a file write and two
   * fsyncs each time, not one per batch). A crash in between resends at most that much, which
   * the tail check at open recognises.
   */
  private saveSoon(stream: StreamName, partition: number, next: number): void {
    this.unsaved.set(`${stream}/${partition}`, { stream, partition, next });
    if (this.persistTimer) return;
    const wait = Math.max(0, this.lastPersist + PERSIST_MS - Date.now());
    this.persistTimer = setTimeout(() => {
      this.persistTimer = undefined;
      this.persist().catch((err) => this.opts.onForwardError?.(err));
    }, wait);
  }

  /** One persist at a time: close() waits for a timer's persist still writing or deleting. */
  private persisting: Promise<void> = Promise.resolve();

  private persist(): Promise<void> {
    const run = this.persisting.then(() => this.persistNow());
    this.persisting = run.catch(() => {});
    return run;
  }

  private async persistNow(): Promise<void> {
    this.lastPersist = Date.now();
    for (const [k, { stream, partition, next }] of [...this.unsaved]) {
      await this.outbox.commit(stream, FORWARDER, partition, next);
      if (this.unsaved.get(k)?.next === next) this.unsaved.delete(k); // else it moved on meanwhile
      await this.outbox.deleteBefore(stream, partition, next);
    }
  }
}

/** Event ids in the last DEDUP_TAIL records of every partition of every stream of `log`. */
async function tailIds(log: EventLog): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const stream of STREAMS) {
    const ends = await log.endOffsets(stream);
    for (let p = 0; p < ends.length; p++) {
      const end = ends[p] ?? 0;
      if (end === 0) continue;
      try {
        for (const r of await log.read(stream, p, Math.max(0, end - DEDUP_TAIL))) ids.add(r.event.id);
      } catch (err) {
        // Best effort (e.g. retention already removed that range): consumers dedupe by id anyway.
        console.warn(`[events] outbox: could not read the tail of ${stream}/${p} to skip resends:`, (err as Error).message);
      }
    }
  }
  return ids;
}

function logTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return withTimeout(p, ms, () => new Error(`event log did not answer within ${ms} ms`));
}
