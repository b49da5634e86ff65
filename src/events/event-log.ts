/**
 * EventLog: the append-only log every fact goes to. Two implementations pass one contract
 * suite (test/events/event-log.contract.ts): FileEventLog (embedded) and KafkaEventLog.
 *
 * Model (Kafka's): a stream has N partitions; each partition is an ordered sequence of
 * records with dense offsets starting at 0. Events with the same key go to the same
 * partition, so order per key (tenant, entity) is kept.
 */
import type { EventEnvelope, StreamName } from "./envelope.ts";
import type { FramedChunk } from "./polling-consumer.ts";

export interface AppendInput {
  /** Partitioning key (tenant for requests, entity id for config). */
  key: string;
  event: EventEnvelope;
}

export interface StoredEvent {
  stream: StreamName;
  partition: number;
  offset: number;
  key: string;
  event: EventEnvelope;
}

export interface AppendResult {
  partition: number;
  offset: number;
}

export interface ConsumeOptions {
  /** Max records per handler call (default 500). */
  maxBatch?: number;
  /** Where a group with no committed offset starts (default "earliest"). */
  from?: "earliest" | "latest";
  /** Poll interval when caught up, ms (file log; default 50). */
  idleMs?: number;
  /**
   * Only events of these types reach the handler (offsets still move past the others). The
   * file log does not even parse the others (a byte search first); Kafka filters after decoding.
   */
  types?: readonly string[];
  /** Called when the handler throws; the batch is retried after a backoff. */
  onError?: (err: unknown, batch: StoredEvent[]) => void;
}

export interface Subscription {
  /** Stop consuming; resolves once the in-flight batch (if any) has finished. */
  stop(): Promise<void>;
}

export interface EventLog {
  readonly kind: "file" | "kafka";
  /** Number of partitions of a stream. */
  partitions(stream: StreamName): number;
  /**
   * Append events durably (resolved = stored, fsynced / acknowledged). Events are stored in
   * the order given, per partition.
   */
  append(stream: StreamName, records: AppendInput[]): Promise<AppendResult[]>;
  /** Records of one partition from `offset` (inclusive), at most `max`. */
  read(stream: StreamName, partition: number, offset: number, max?: number): Promise<StoredEvent[]>;
  /** Next offset to be written, per partition (the "high watermark"). */
  endOffsets(stream: StreamName): Promise<number[]>;
  /** Committed offsets of a consumer group (next offset to read), per partition. */
  committed(stream: StreamName, group: string): Promise<number[]>;
  /** Commit the next offset to read for a partition. */
  commit(stream: StreamName, group: string, partition: number, offset: number): Promise<void>;
  /**
   * Consume a stream as a group: the handler gets batches (per partition, in order) starting
   * at the group's committed offsets; offsets are committed only after the handler resolved.
   * A handler that throws gets the same batch again (at-least-once).
   */
  consume(
    stream: StreamName,
    group: string,
    handler: (batch: StoredEvent[]) => Promise<void>,
    opts?: ConsumeOptions,
  ): Subscription;
  /**
   * The file log only: batches as framed, unparsed bytes, for a consumer that parses in another
   * process (FileEventLog.consumeFramed). Absent: use `consume`.
   */
  consumeFramed?(stream: StreamName, group: string, handler: (chunk: FramedChunk) => Promise<void>, opts?: Omit<ConsumeOptions, "types" | "onError"> & { onError?: (err: unknown) => void }): Subscription;
  /** Reachable and writable (for /ready). */
  health(): Promise<{ ok: boolean; detail?: string }>;
  close(): Promise<void>;
}

/** Stable partition of a key (FNV-1a 32-bit), the same in every implementation. */
export function partitionFor(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

/** Every record of one partition from `from` to the current end, in batches of at most `max` (replays, rebuilds). */
export async function* readBatches(log: Pick<EventLog, "read">, stream: StreamName, partition: number, from = 0, max = 1000): AsyncGenerator<StoredEvent[]> {
  for (let offset = from; ; ) {
    const batch = await log.read(stream, partition, offset, max);
    if (batch.length === 0) return;
    yield batch;
    offset = batch.at(-1)!.offset + 1;
  }
}

/**
 * Per partition, an offset at or before the first record whose event time is `sinceMs` or later
 * (the end offset when there is none): where a replay of "the last N minutes" starts. Steps back
 * from the end in doubling strides, reading one record per probe (a few reads, whatever the
 * partition's length), so it may start somewhat earlier than needed — never later, as long as
 * event times in a partition do not run backwards by more than the stride (they are appended
 * in the order they happen, give or take a batch).
 */
export async function offsetsSince(log: Pick<EventLog, "read" | "endOffsets">, stream: StreamName, sinceMs: number): Promise<number[]> {
  const ends = await log.endOffsets(stream);
  return Promise.all(
    ends.map(async (end, partition) => {
      let newer = end; // every record from here on is at or after sinceMs
      for (let stride = 256; newer > 0; stride *= 2) {
        const probe = Math.max(0, newer - stride);
        // A few records: one unreadable record (left out by read) does not end the search.
        const first = (await log.read(stream, partition, probe, 8).catch(() => []))[0];
        // Older than the window: start at the probe. Nothing readable there (retention removed
        // it): start where the window is known to be.
        if (!first) return newer;
        if (Date.parse(first.event.time) < sinceMs) return probe;
        newer = probe;
      }
      return 0;
    }),
  );
}
