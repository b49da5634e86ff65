/**
 * A consumer-group subscription built on read/commit: one loop per subscription visits the
 * partitions in turn, hands each non-empty batch to the handler (never two handler calls at
 * once), commits after the handler resolved, and retries a failed batch with backoff.
 * When caught up it sleeps `idleMs`, or less when woken by an append.
 */
import type { AppendInput, ConsumeOptions, EventLog, StoredEvent, Subscription } from "./event-log.ts";
import { deadLetterRecord } from "./deadletter.ts";
import { envelopeErrors } from "./envelope.ts";
import type { StreamName } from "./envelope.ts";

const BACKOFF_START_MS = 100;
const BACKOFF_MAX_MS = 5000;

export interface PollingConsumerDeps {
  log: Pick<EventLog, "read" | "commit" | "endOffsets" | "partitions">;
  /** Events of some types only, the rest skipped unparsed (for `opts.types`). */
  readTypes?: (stream: StreamName, partition: number, offset: number, max: number, types: readonly string[]) => Promise<{ events: StoredEvent[]; next: number }>;
  /** Committed next offsets per partition (absent = never committed). */
  committed: () => Promise<Map<number, number>>;
  /** Called once the loop has ended. */
  onStopped: () => void;
  /**
   * Framed mode (FileEventLog.consumeFramed): where the next records are, unread, as one chunk; the
   * handler gets `[chunk]` and checks the envelopes itself (dead letters are its job then).
   */
  locate?: (stream: StreamName, partition: number, offset: number, max: number) => Promise<FramedChunk>;
  /** Store records no consumer can read (invalid envelopes) in the dead-letter stream. */
  deadLetter?: (records: AppendInput[]) => Promise<unknown>;
}

/**
 * Where the next records of one partition are on disk, unread: `count` records from offset
 * `first`, framed in segment file `path` from byte `start` on (after skipping `skip` records),
 * all before byte `end`. The consumer reads them itself (segment.ts `readRecords`): the embedded
 * analytics engine does, in its own process (src/analytics/framed-projection.ts).
 */
export interface FramedChunk {
  stream: StreamName;
  partition: number;
  first: number;
  count: number;
  path: string;
  start: number;
  skip: number;
  end: number;
}

export class PollingConsumer implements Subscription {
  private stopped = false;
  /** An append happened since the current pass started. */
  private woken = false;
  private sleeping: { idle: boolean; done: () => void } | null = null;
  private readonly loop: Promise<void>;

  constructor(
    private readonly stream: StreamName,
    private readonly group: string,
    private readonly handler: (batch: StoredEvent[]) => Promise<void>,
    private readonly opts: ConsumeOptions,
    private readonly deps: PollingConsumerDeps,
  ) {
    this.loop = this.run().finally(() => deps.onStopped());
  }

  /** New records may be there: end an idle sleep early. */
  wake(): void {
    this.woken = true;
    if (this.sleeping?.idle) this.sleeping.done();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.sleeping?.done();
    await this.loop;
  }

  private async run(): Promise<void> {
    const maxBatch = Math.max(1, this.opts.maxBatch ?? 500);
    const idleMs = this.opts.idleMs ?? 50;
    let next: number[] | null = null;
    let errorDelay = BACKOFF_START_MS;
    while (!this.stopped) {
      try {
        next ??= await this.startOffsets();
        this.woken = false;
        let delivered = false;
        for (let p = 0; p < next.length && !this.stopped; p++) {
          const from = next[p] ?? 0;
          const { batch, upTo } = await this.readFrom(p, from, maxBatch);
          if (upTo === from) continue;
          delivered = true;
          if (batch.length > 0 && !(await this.deliver(batch))) break; // stopped while retrying
          next[p] = upTo;
          await this.deps.log.commit(this.stream, this.group, p, upTo);
        }
        errorDelay = BACKOFF_START_MS;
        if (!delivered && !this.woken) await this.sleep(idleMs, true);
      } catch (err) {
        // A read/commit failure (I/O): keep the loop alive, retry from the same offsets.
        console.warn(`[event-log] consumer ${this.group}@${this.stream}: ${String(err)}; retrying`);
        await this.sleep(errorDelay, false);
        errorDelay = Math.min(errorDelay * 2, BACKOFF_MAX_MS);
      }
    }
  }

  /** The next batch for the handler and the offset after the records looked at. */
  private async readFrom(p: number, from: number, max: number): Promise<{ batch: StoredEvent[]; upTo: number }> {
    if (this.deps.locate) {
      const chunk = await this.deps.locate(this.stream, p, from, max);
      // One element: the chunk (see PollingConsumerDeps.locate).
      return { batch: chunk.count > 0 ? [chunk as unknown as StoredEvent] : [], upTo: chunk.count > 0 ? chunk.first + chunk.count : from };
    }
    const types = this.opts.types;
    if (types && this.deps.readTypes) {
      const { events, next } = await this.deps.readTypes(this.stream, p, from, max, types);
      return { batch: events, upTo: next };
    }
    const batch = await this.deps.log.read(this.stream, p, from, max);
    const all = types ? batch.filter((r) => types.includes(r.event.type)) : batch;
    return { batch: all, upTo: batch.length ? batch[batch.length - 1]!.offset + 1 : from };
  }

  private async startOffsets(): Promise<number[]> {
    const committed = await this.deps.committed();
    const ends = this.opts.from === "latest" ? await this.deps.log.endOffsets(this.stream) : [];
    const n = this.deps.log.partitions(this.stream);
    return Array.from({ length: n }, (_, p) => committed.get(p) ?? ends[p] ?? 0);
  }

  /**
   * Run the handler until it succeeds (true) or the subscription stops (false). Records that
   * are not valid envelopes go to the dead-letter stream with the reason, never to the handler.
   */
  private async deliver(all: StoredEvent[]): Promise<boolean> {
    let delay = BACKOFF_START_MS;
    let batch = all;
    if (this.stream !== "deadletter" && this.deps.deadLetter && !this.deps.locate) {
      const bad = all.flatMap((r) => {
        const errors = envelopeErrors(r.event);
        return errors.length ? [{ r, reason: `not a valid event envelope: ${errors.join("; ")}` }] : [];
      });
      if (bad.length) {
        await this.deps.deadLetter(bad.map(({ r, reason }) => deadLetterRecord({ reason, source: { stream: r.stream, partition: r.partition, offset: r.offset }, raw: JSON.stringify(r.event), key: r.key })));
        batch = all.filter((r) => !bad.some((b) => b.r === r));
        if (batch.length === 0) return true;
      }
    }
    for (;;) {
      try {
        await this.handler(batch);
        return true;
      } catch (err) {
        try {
          this.opts.onError?.(err, batch);
        } catch {
          // an onError that throws must not break the loop
        }
      }
      if (this.stopped) return false;
      await this.sleep(delay, false);
      if (this.stopped) return false;
      delay = Math.min(delay * 2, BACKOFF_MAX_MS);
    }
  }

  private sleep(ms: number, idle: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.sleeping?.done === done) this.sleeping = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleeping = { idle, done };
    });
  }
}
