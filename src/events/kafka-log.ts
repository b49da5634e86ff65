/**
 * The distributed event log: Apache Kafka through kafkajs (chosen when `KAFKA_BROKERS` is set).
 *
 * Stream `s` is topic `<prefix>s` (default prefix "tollgate."). A record is the event
 * envelope as JSON, keyed by the append key; its partition is chosen here with
 * `partitionFor` (FNV-1a), so the file log and Kafka place keys alike. Committed offsets are
 * Kafka's own consumer-group offsets: `kafka-consumer-groups.sh` and friends see them.
 */
import { eventJson } from "./event-json.ts";
import type { Admin, Kafka, Producer } from "kafkajs";
import { deadLetterRecord, decodeRecord } from "./deadletter.ts";
import { STREAMS, type StreamName } from "./envelope.ts";
import {
  partitionFor,
  type AppendInput,
  type AppendResult,
  type ConsumeOptions,
  type EventLog,
  type StoredEvent,
  type Subscription,
} from "./event-log.ts";
import { createKafka } from "./kafka-client.ts";
import { RecordRefusedError, refusedRecordType } from "./refused.ts";
import { KafkaGroupConsumer, type ConsumerTuning } from "./kafka-consumer.ts";
import { RawKafka } from "./kafka-raw.ts";
import { DEFAULT_TOPIC_PREFIX, ensureTopics, topicNames, type TopicNames } from "./kafka-topics.ts";

/** Broker default `message.max.bytes` is 1 MiB per record batch: stay well below it. */
const MAX_REQUEST_BYTES = 512 * 1024;
/** The cap on one event's encoded size on Kafka (larger ones are dead-lettered by the outbox). */
export const MAX_RECORD_BYTES = 1000 * 1024;
const RECORD_OVERHEAD_BYTES = 32;

export interface KafkaEventLogOptions {
  brokers: string[];
  clientId?: string;
  /** Topic name prefix (default "tollgate."): stream `requests` is topic `<prefix>requests`. */
  topicPrefix?: string;
  /** Partitions of topics created at connect (defaults: requests 6, config 1, deadletter 1). */
  partitions?: Partial<Record<StreamName, number>>;
  /** Consumer-group timings (defaults suit production; tests lower them). */
  consumer?: ConsumerTuning;
  /** How long health() waits for the cluster, ms (default 2000). */
  healthTimeoutMs?: number;
}

/**
 * {@link EventLog} over Kafka.
 *
 * - `append`: one idempotent produce (acks=all) per call (split only past 512 KiB); resolves
 *   with each record's offset (the partition's base offset + its index in that partition's batch).
 * - `read`: a direct Fetch of one partition (no consumer group involved).
 * - `consume`: a kafkajs consumer in the group, committing after the handler resolved;
 *   unreadable records go to the `deadletter` stream (see deadletter.ts).
 * - `commit`: only for a group with no running members (Kafka's rule).
 */
export class KafkaEventLog implements EventLog {
  readonly kind = "kafka" as const;
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly subscriptions = new Set<KafkaGroupConsumer>();

  private constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly producer: Producer,
    private readonly raw: RawKafka,
    private readonly topics: TopicNames,
    private readonly counts: Record<StreamName, number>,
    private readonly opts: KafkaEventLogOptions,
  ) {}

  /** Connect, create the missing topics and get ready to append and read. */
  static async connect(opts: KafkaEventLogOptions): Promise<KafkaEventLog> {
    const kafka = createKafka({ brokers: opts.brokers, ...(opts.clientId ? { clientId: opts.clientId } : {}) });
    const topics = topicNames(opts.topicPrefix ?? DEFAULT_TOPIC_PREFIX);
    const admin = kafka.admin();
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Every record carries its partition; this only answers for one that does not.
      createPartitioner: () => ({ message, partitionMetadata }) =>
        message.partition ?? partitionFor(message.key?.toString() ?? "", partitionMetadata.length),
    });
    const opened: { disconnect(): Promise<void> }[] = [];
    try {
      await admin.connect();
      opened.push(admin);
      const counts = await ensureTopics(admin, topics, opts.partitions);
      await producer.connect();
      opened.push(producer);
      const raw = await RawKafka.connect(kafka, STREAMS.map((s) => topics[s]));
      return new KafkaEventLog(kafka, admin, producer, raw, topics, counts, opts);
    } catch (err) {
      await Promise.all(opened.map((c) => c.disconnect().catch(() => {})));
      throw err;
    }
  }

  partitions(stream: StreamName): number {
    return this.counts[stream];
  }

  async append(stream: StreamName, records: AppendInput[]): Promise<AppendResult[]> {
    this.assertOpen("append");
    const topic = this.topics[stream];
    const n = this.partitions(stream);
    const messages = records.map((r) => ({ key: r.key, value: eventJson(r.event), partition: partitionFor(r.key, n) }));
    // The cap on an event's encoded size, checked for the whole batch before anything is sent:
    // retrying cannot help such an event (the outbox dead-letters it, see RecordRefusedError).
    const sizes = messages.map((m, i) => {
      const size = Buffer.byteLength(m.value) + Buffer.byteLength(m.key) + RECORD_OVERHEAD_BYTES;
      if (size > MAX_RECORD_BYTES) throw new RecordRefusedError(`event too large for Kafka: ${size} bytes (limit ${MAX_RECORD_BYTES}, broker message.max.bytes)`, "event_too_large", i);
      return size;
    });
    // One produce per call — split only where a request would pass the broker's size limit.
    const results: AppendResult[] = [];
    let chunk: typeof messages = [];
    let bytes = 0;
    for (const [i, m] of messages.entries()) {
      const size = sizes[i]!;
      if (chunk.length > 0 && bytes + size > MAX_REQUEST_BYTES) {
        results.push(...(await this.send(topic, chunk)));
        chunk = [];
        bytes = 0;
      }
      chunk.push(m);
      bytes += size;
    }
    if (chunk.length > 0) results.push(...(await this.send(topic, chunk)));
    return results;
  }

  /**
   * Produces one at a time. kafkajs's idempotent producer numbers each batch when it is sent; two
   * sends in flight from concurrent callers, one of them retried after a leader change, reach the
   * broker out of sequence (OUT_OF_ORDER_SEQUENCE_NUMBER, not retriable). Callers batch (the
   * emitter, the outbox forwarder), so one produce in flight costs little.
   */
  private sending: Promise<unknown> = Promise.resolve();

  /** One produce; each record's offset = its partition's base offset + its index in that partition. */
  private send(topic: string, messages: { key: string; value: string; partition: number }[]): Promise<AppendResult[]> {
    const run = this.sending.then(() => this.produce(topic, messages));
    this.sending = run.catch(() => {});
    return run;
  }

  private async produce(topic: string, messages: { key: string; value: string; partition: number }[]): Promise<AppendResult[]> {
    let metadata;
    try {
      metadata = await this.producer.send({ topic, acks: -1, messages });
    } catch (err) {
      // The broker refused a record for good (e.g. a topic's lower max.message.bytes): say so, so
      // the outbox dead-letters it instead of retrying it forever.
      const type = refusedRecordType(err);
      if (type) throw new RecordRefusedError(`the broker refused the record(s): ${type}`, type.toLowerCase(), messages.length === 1 ? 0 : undefined);
      throw err;
    }
    const base = new Map<number, number>();
    for (const m of metadata) {
      if (m.topicName !== topic || m.errorCode !== 0 || m.baseOffset === undefined) {
        throw new Error(`produce to ${topic}/${m.partition} failed (error code ${m.errorCode})`);
      }
      base.set(m.partition, Number(m.baseOffset));
    }
    const index = new Map<number, number>();
    return messages.map(({ partition }) => {
      const first = base.get(partition);
      if (first === undefined) throw new Error(`produce to ${topic}: no offset returned for partition ${partition}`);
      const i = index.get(partition) ?? 0;
      index.set(partition, i + 1);
      return { partition, offset: first + i };
    });
  }

  /**
   * Records of one partition from `offset`; all up to the end when `max` is omitted. A record
   * that is not a valid envelope is left out (with a warning): consumers dead-letter it.
   */
  async read(stream: StreamName, partition: number, offset: number, max = Number.POSITIVE_INFINITY): Promise<StoredEvent[]> {
    this.assertOpen("read");
    this.assertPartition(stream, partition);
    if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`invalid offset ${offset}`);
    const topic = this.topics[stream];
    const out: StoredEvent[] = [];
    let next = offset;
    while (out.length < max) {
      let fetched;
      try {
        fetched = await this.raw.fetchPartition(topic, partition, next);
      } catch (err) {
        // Past the end is empty, not an error (as in the file log).
        if ((err as { type?: string }).type === "OFFSET_OUT_OF_RANGE" && next >= ((await this.endOffsets(stream))[partition] ?? 0)) break;
        throw err;
      }
      for (const r of fetched.records) {
        if (out.length >= max) break;
        next = r.offset + 1;
        const decoded = decodeRecord(r.value);
        if (decoded.ok) {
          out.push({ stream, partition, offset: r.offset, key: r.key?.toString("utf8") ?? "", event: decoded.event });
        } else {
          console.warn(`[event-log] ${topic}/${partition}@${r.offset} is unreadable (${decoded.reason}); skipped by read()`);
        }
      }
      if (fetched.records.length === 0 || next >= fetched.highWatermark) break;
    }
    return out;
  }

  async endOffsets(stream: StreamName): Promise<number[]> {
    this.assertOpen("endOffsets");
    const offsets = await this.admin.fetchTopicOffsets(this.topics[stream]);
    const ends = new Array<number>(this.partitions(stream)).fill(0);
    for (const o of offsets) if (o.partition < ends.length) ends[o.partition] = Number(o.high);
    return ends;
  }

  /** The group's committed offsets in Kafka; 0 where it never committed. */
  async committed(stream: StreamName, group: string): Promise<number[]> {
    this.assertOpen("committed");
    const topic = this.topics[stream];
    const result = await this.admin.fetchOffsets({ groupId: group, topics: [topic] });
    const out = new Array<number>(this.partitions(stream)).fill(0);
    for (const p of result.find((t) => t.topic === topic)?.partitions ?? []) {
      const offset = Number(p.offset);
      if (p.partition < out.length && offset >= 0) out[p.partition] = offset;
    }
    return out;
  }

  /**
   * Commit the next offset to read. Kafka accepts this only while the group has no running
   * members (as `kafka-consumer-groups --reset-offsets` requires); running groups commit
   * through `consume`.
   */
  async commit(stream: StreamName, group: string, partition: number, offset: number): Promise<void> {
    this.assertOpen("commit");
    this.assertPartition(stream, partition);
    if (group.length === 0) throw new RangeError("consumer group name must not be empty");
    if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`invalid offset ${offset}`);
    try {
      await this.raw.commitOffset(group, this.topics[stream], partition, offset);
    } catch (err) {
      const type = (err as { type?: string }).type ?? "";
      if (["UNKNOWN_MEMBER_ID", "ILLEGAL_GENERATION", "REBALANCE_IN_PROGRESS"].includes(type)) {
        throw new Error(`cannot commit for group ${group}: it has running members (Kafka takes outside commits only for an empty group)`, { cause: err });
      }
      throw err;
    }
  }

  consume(
    stream: StreamName,
    group: string,
    handler: (batch: StoredEvent[]) => Promise<void>,
    opts: ConsumeOptions = {},
  ): Subscription {
    this.assertOpen("consume");
    if (group.length === 0) throw new RangeError("consumer group name must not be empty");
    const types = opts.types;
    const deliver = types ? async (batch: StoredEvent[]) => {
      const wanted = batch.filter((r) => types.includes(r.event.type));
      if (wanted.length > 0) await handler(wanted);
    } : handler;
    const sub: KafkaGroupConsumer = new KafkaGroupConsumer(deliver, opts, {
      kafka: this.kafka,
      topic: this.topics[stream],
      stream,
      group,
      tuning: this.opts.consumer ?? {},
      deadLetter: async (source, raw, key, reason) => {
        await this.append("deadletter", [deadLetterRecord({ reason, source, raw, key })]);
      },
      onStopped: () => this.subscriptions.delete(sub),
    });
    this.subscriptions.add(sub);
    return sub;
  }

  async health(): Promise<{ ok: boolean; detail?: string }> {
    if (this.closed) return { ok: false, detail: "event log closed" };
    const timeoutMs = this.opts.healthTimeoutMs ?? 2000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from Kafka within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const cluster = await Promise.race([this.admin.describeCluster(), timeout]);
      if (cluster.brokers.length === 0) return { ok: false, detail: "Kafka cluster reports no brokers" };
      return { ok: true };
    } catch (err) {
      return { ok: false, detail: `Kafka unreachable: ${(err as Error).message}` };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stop consumers (each finishes its in-flight batch), then disconnect. Idempotent. */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??= (async () => {
      await Promise.all([...this.subscriptions].map((s) => s.stop().catch(() => {})));
      await Promise.all([this.producer.disconnect(), this.admin.disconnect(), this.raw.disconnect()].map((p) => p.catch(() => {})));
    })();
    return this.closing;
  }

  private assertOpen(what: string): void {
    if (this.closed) throw new Error(`KafkaEventLog is closed: cannot ${what}`);
  }

  private assertPartition(stream: StreamName, partition: number): void {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions(stream)) {
      throw new RangeError(`no partition ${partition} in stream ${stream} (${this.partitions(stream)} partitions)`);
    }
  }
}
