/**
 * EventEmitter for the hot path: `emit()` is synchronous and never waits on the log.
 * Events are queued and appended in batches (size or linger, whichever first). A failed append
 * is retried with backoff; events are never dropped.
 *
 * Durability before an answer: `settled()` resolves once every event emitted before the call
 * has been appended (for the file log and the outbox: handed to the operating system). It cuts
 * the linger short, and while one append is in flight everything emitted meanwhile waits for
 * the next one: a group commit, one write for all the requests that finished in the meantime. The queue is bounded: past `highWater`
 * the emitter reports itself `saturated` so the HTTP layer refuses new work (503) instead of
 * losing events or growing without limit.
 */
import type { EventEnvelope, StreamName } from "./envelope.ts";
import type { AppendInput, EventLog } from "./event-log.ts";

export interface EmitterOptions {
  /** Max events per append (default 500). */
  maxBatch?: number;
  /** How long the first queued event may wait for others, ms (default 5). */
  lingerMs?: number;
  /** Queue length at which the emitter is saturated (default 50,000). */
  highWater?: number;
  /** Called once per failed append (the batch stays queued and is retried). */
  onAppendError?: (err: unknown, stream: StreamName, size: number) => void;
}

interface Waiter {
  /** Resolve once `stats.appended` reaches this. */
  upTo: number;
  resolve: () => void;
}

const SETTLED = Promise.resolve();

interface Queued {
  stream: StreamName;
  input: AppendInput;
}

export class BatchingEmitter {
  private queue: Queued[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private flushing: Promise<void> | undefined;
  private backoffMs = 0;
  private closed = false;
  private waiters: Waiter[] = [];
  private immediate = false;
  private readonly maxBatch: number;
  private readonly lingerMs: number;
  private readonly highWater: number;
  /** Counters for /metrics and /ready. */
  readonly stats = { emitted: 0, appended: 0, appendErrors: 0 };
  lastError: string | undefined;

  constructor(
    private readonly log: EventLog,
    private readonly opts: EmitterOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 500;
    this.lingerMs = opts.lingerMs ?? 5;
    this.highWater = opts.highWater ?? 50_000;
  }

  /** Queue an event. Synchronous: the caller never waits on the log. */
  emit(stream: StreamName, key: string, event: EventEnvelope): void {
    if (this.closed) throw new Error("emitter is closed");
    this.queue.push({ stream, input: { key, event } });
    this.stats.emitted++;
    if (this.queue.length >= this.maxBatch) this.schedule(0);
    else this.schedule(this.lingerMs);
  }

  /**
   * Resolves when every event emitted so far is stored (retries until it is). Cheap when
   * nothing is pending; never rejects.
   */
  settled(): Promise<void> {
    const upTo = this.stats.emitted;
    if (this.stats.appended >= upTo) return SETTLED;
    return new Promise((resolve) => {
      this.waiters.push({ upTo, resolve });
      this.drainSoon();
    });
  }

  /** Events accepted but not yet stored. */
  get pending(): number {
    return this.queue.length;
  }

  get saturated(): boolean {
    return this.queue.length >= this.highWater;
  }

  /** Resolves when everything queued before the call is stored (retries until it is). */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.flushing) {
      if (!this.flushing && this.backoffMs > 0) await Bun.sleep(this.backoffMs);
      await this.startDrain();
    }
  }

  /** Flush and stop accepting events. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Drain at the end of this turn of the event loop: everything emitted in it goes in one append. */
  private drainSoon(): void {
    if (this.flushing || this.immediate || this.backoffMs > 0) return; // a running drain picks them up
    this.immediate = true;
    setImmediate(() => {
      this.immediate = false;
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
      void this.startDrain();
    });
  }

  private release(): void {
    const appended = this.stats.appended;
    let i = 0;
    while (i < this.waiters.length && this.waiters[i]!.upTo <= appended) this.waiters[i++]!.resolve();
    if (i > 0) this.waiters.splice(0, i);
  }

  private schedule(delayMs: number): void {
    if (this.flushing) return; // the running drain picks new events up
    const delay = Math.max(delayMs, this.backoffMs);
    if (this.timer) {
      if (delay > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.startDrain();
    }, delay);
  }

  /** The one running drain (started if none runs). */
  private startDrain(): Promise<void> {
    if (this.flushing) return this.flushing;
    const running = this.drain().finally(() => {
      this.flushing = undefined;
      if (this.queue.length > 0 && !this.closed) {
        if (this.waiters.length > 0 && this.backoffMs === 0) this.drainSoon();
        else this.schedule(this.backoffMs);
      }
    });
    this.flushing = running;
    return running;
  }

  /** Append batches until the queue is empty or an append fails (then back off and retry). */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const stream = this.queue[0]!.stream;
      let n = 0;
      while (n < this.queue.length && n < this.maxBatch && this.queue[n]!.stream === stream) n++;
      const batch = this.queue.slice(0, n);
      try {
        await this.log.append(stream, batch.map((q) => q.input));
      } catch (err) {
        this.stats.appendErrors++;
        this.lastError = err instanceof Error ? err.message : String(err);
        this.backoffMs = Math.min(this.backoffMs ? this.backoffMs * 2 : 50, 5_000);
        this.opts.onAppendError?.(err, stream, batch.length);
        return;
      }
      this.queue.splice(0, n);
      this.stats.appended += n;
      this.backoffMs = 0;
      this.lastError = undefined;
      if (this.waiters.length > 0) this.release();
    }
  }
}
