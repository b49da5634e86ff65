/**
 * A consumer-group subscription of the Kafka event log: a kafkajs consumer in the group,
 * `eachBatch` without auto-resolve or auto-commit. Per fetched partition batch:
 *
 *   records ─► decode ─┬─ valid ──► chunks of ≤ maxBatch ─► handler ─► commit next offset
 *                      └─ invalid ─► (pending chunk first) ─► dead-letter stream ─► commit past it
 *
 * A throwing handler gets the same chunk again after a backoff (100 ms doubling to 5 s; the
 * group heartbeat is kept alive meanwhile); nothing is committed or skipped until it succeeds.
 * On a rebalance or stop mid-retry the batch is left unresolved, so whoever owns the partition
 * next starts again from the last committed offset (at-least-once).
 */
import type { Consumer, EachBatchPayload, Kafka } from "kafkajs";
import { decodeRecord, type DeadLetterSource } from "./deadletter.ts";
import type { StreamName } from "./envelope.ts";
import type { ConsumeOptions, StoredEvent, Subscription } from "./event-log.ts";

const BACKOFF_START_MS = 100;
const BACKOFF_MAX_MS = 5000;

export interface ConsumerTuning {
  /** Group session timeout, ms (default 10000). A handler call should stay well below it. */
  sessionTimeout?: number;
  /** Heartbeat interval, ms (default 1000). */
  heartbeatInterval?: number;
  /** Broker long-poll when caught up, ms (default 500): also bounds how long stop() waits. */
  maxWaitTimeInMs?: number;
  /** Rebalance timeout, ms (default 30000). */
  rebalanceTimeout?: number;
}

export interface KafkaGroupConsumerDeps {
  kafka: Kafka;
  topic: string;
  stream: StreamName;
  group: string;
  tuning: ConsumerTuning;
  /** Append a dead letter for an unreadable record (resolved = stored). */
  deadLetter: (source: DeadLetterSource, raw: Buffer | null, key: string | null, reason: string) => Promise<void>;
  onStopped: () => void;
}

export class KafkaGroupConsumer implements Subscription {
  private stopped = false;
  private consumer: Consumer | null = null;
  /** The latest start (a crash kafkajs does not recover from starts a new consumer). */
  private running: Promise<void>;
  private wakeUp: (() => void) | null = null;
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly handler: (batch: StoredEvent[]) => Promise<void>,
    private readonly opts: ConsumeOptions,
    private readonly deps: KafkaGroupConsumerDeps,
  ) {
    this.running = this.start();
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    this.stopping ??= (async () => {
      try {
        await this.running;
        await this.consumer?.disconnect(); // waits for the in-flight batch
      } finally {
        this.deps.onStopped();
      }
    })();
    return this.stopping;
  }

  /** Connect, subscribe and run; on failure retry with backoff until it runs or stop() is called. */
  private async start(): Promise<void> {
    let delay = BACKOFF_START_MS;
    while (!this.stopped) {
      const { tuning } = this.deps;
      const consumer = this.deps.kafka.consumer({
        groupId: this.deps.group,
        sessionTimeout: tuning.sessionTimeout ?? 10_000,
        heartbeatInterval: tuning.heartbeatInterval ?? 1000,
        rebalanceTimeout: tuning.rebalanceTimeout ?? 30_000,
        maxWaitTimeInMs: tuning.maxWaitTimeInMs ?? 500,
        allowAutoTopicCreation: false,
        // kafkajs restarts a crashed consumer by itself (retriable errors) — but not once stopped:
        // otherwise a consumer crashed by a broker outage keeps restarting after disconnect().
        retry: { restartOnFailure: async () => !this.stopped },
      });
      this.consumer = consumer;
      try {
        // A crash kafkajs does not restart itself (non-retriable error): start afresh.
        consumer.on(consumer.events.CRASH, (e) => {
          if (e.payload.restart || this.stopped) return;
          console.warn(`[event-log] consumer ${this.deps.group}@${this.deps.topic} crashed: ${String(e.payload.error)}; restarting`);
          void consumer.disconnect().catch(() => {}).then(() => {
            if (!this.stopped && this.consumer === consumer) this.running = this.running.then(() => this.start());
          });
        });
        await consumer.connect();
        await consumer.subscribe({ topics: [this.deps.topic], fromBeginning: this.opts.from !== "latest" });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: 1,
          eachBatch: (payload) => this.eachBatch(payload),
        });
        return;
      } catch (err) {
        await consumer.disconnect().catch(() => {});
        if (this.stopped) return;
        console.warn(`[event-log] consumer ${this.deps.group}@${this.deps.topic} failed to start: ${String(err)}; retrying`);
        await this.sleep(delay);
        delay = Math.min(delay * 2, BACKOFF_MAX_MS);
      }
    }
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, isRunning, isStale, resolveOffset, commitOffsetsIfNecessary } = payload;
    const { topic, stream } = this.deps;
    const partition = batch.partition;
    const maxBatch = Math.max(1, this.opts.maxBatch ?? 500);
    const alive = (): boolean => !this.stopped && isRunning() && !isStale();
    const commitPast = async (offset: number): Promise<void> => {
      await commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: String(offset + 1) }] }] });
      resolveOffset(String(offset));
    };
    let pending: StoredEvent[] = [];
    const flush = async (): Promise<boolean> => {
      const last = pending[pending.length - 1];
      if (!last) return true;
      if (!(await this.retrying(() => this.handler(pending), pending, heartbeat, alive))) return false;
      await commitPast(last.offset);
      pending = [];
      return true;
    };

    for (const message of batch.messages) {
      if (!alive()) return;
      const offset = Number(message.offset);
      const key = message.key?.toString("utf8") ?? null;
      const decoded = decodeRecord(message.value);
      if (decoded.ok) {
        pending.push({ stream, partition, offset, key: key ?? "", event: decoded.event });
        if (pending.length >= maxBatch && !(await flush())) return;
        continue;
      }
      if (!(await flush())) return;
      const source = { stream, partition, offset };
      const stored = await this.retrying(() => this.deps.deadLetter(source, message.value, key, decoded.reason), null, heartbeat, alive);
      if (!stored) return;
      await commitPast(offset);
    }
    if (await flush()) await heartbeat();
  }

  /**
   * Run `work` until it succeeds (true) or the consumer stops / loses the partition (false).
   * Handler failures go to `onError` with the batch; dead-letter failures are logged.
   */
  private async retrying(
    work: () => Promise<void>,
    batch: StoredEvent[] | null,
    heartbeat: () => Promise<void>,
    alive: () => boolean,
  ): Promise<boolean> {
    let delay = BACKOFF_START_MS;
    for (;;) {
      try {
        await work();
        return true;
      } catch (err) {
        if (batch) {
          try {
            this.opts.onError?.(err, batch);
          } catch {
            // an onError that throws must not break the loop
          }
        } else {
          console.warn(`[event-log] consumer ${this.deps.group}@${this.deps.topic}: dead-letter append failed: ${String(err)}; retrying`);
        }
      }
      const until = Date.now() + delay;
      while (alive() && Date.now() < until) {
        await this.sleep(Math.min(250, until - Date.now()));
        // A rebalance surfaces here as an error: let it end the batch (uncommitted) so
        // kafkajs rejoins; the partition's next owner starts again from the committed offset.
        await heartbeat();
      }
      if (!alive()) return false;
      delay = Math.min(delay * 2, BACKOFF_MAX_MS);
    }
  }

  /** Sleep `ms`, or less when stop() is called. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.wakeUp === done) this.wakeUp = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }
}
