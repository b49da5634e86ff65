/**
 * Two Kafka requests kafkajs has no public API for, made through its (typed, but privately
 * created) `Cluster`:
 *
 * - `fetchPartition`: one Fetch of one partition from an offset, without a consumer group
 *   (kafkajs consumers must join a group and cannot simply "read partition p from offset o").
 * - `commitOffset`: an OffsetCommit for a group that has no running members (generation -1,
 *   empty member id: what Java's `consumer.commitSync` does after `assign()`). kafkajs's
 *   `admin.setOffsets` joins the group with a throw-away consumer instead (~5 s each).
 *
 * kafkajs 2.x is frozen, so its internals do not move; `test/events/kafka-log.test.ts` covers
 * both paths against a real broker.
 */
import type { Broker, Cluster, Kafka } from "kafkajs";

/** A record as kafkajs decodes it from a Fetch response (record batch v2). */
export interface RawRecord {
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
}

export interface FetchResult {
  records: RawRecord[];
  /** The partition's high watermark (next offset to be written) when fetched. */
  highWatermark: number;
}

interface FetchResponse {
  responses: {
    topicName: string;
    partitions: {
      partition: number;
      errorCode: number;
      highWatermark: string;
      messages: { offset: string; key: Buffer | null; value: Buffer | null; isControlRecord?: boolean }[];
    }[];
  }[];
}

type CreateCluster = (opts: { metadataMaxAge?: number; allowAutoTopicCreation?: boolean }) => Cluster;

/** Errors after which fresh metadata (partition leaders) may help. */
// kafkajs names error code 6 by its old name, NOT_LEADER_FOR_PARTITION (a fresh topic whose leader
// is still being elected answers it): both names are listed.
const STALE_METADATA = new Set(["NOT_LEADER_OR_FOLLOWER", "NOT_LEADER_FOR_PARTITION", "LEADER_NOT_AVAILABLE", "UNKNOWN_TOPIC_OR_PARTITION", "FENCED_LEADER_EPOCH"]);

export class RawKafka {
  private constructor(private readonly cluster: Cluster) {}

  /** A connected raw cluster of `kafka`, with metadata for `topics` loaded. */
  static async connect(kafka: Kafka, topics: string[]): Promise<RawKafka> {
    const create = Object.getOwnPropertySymbols(kafka)
      .filter((s) => s.description === "private:Kafka:createCluster")
      .map((s) => (kafka as unknown as Record<symbol, unknown>)[s])[0];
    if (typeof create !== "function") {
      throw new Error("kafkajs internals changed: no createCluster on the Kafka client (kafkajs 2.x is required)");
    }
    const cluster = (create as CreateCluster)({ allowAutoTopicCreation: false, metadataMaxAge: 300_000 });
    await cluster.connect();
    try {
      await cluster.addMultipleTargetTopics(topics);
    } catch (err) {
      await cluster.disconnect();
      throw err;
    }
    return new RawKafka(cluster);
  }

  /**
   * Records of `topic`/`partition` from `offset`: whatever one Fetch returns (at least one
   * record batch if any exists at `offset`, up to about `maxBytes`). Records before `offset`
   * (the start of the first batch) and control records are left out.
   */
  async fetchPartition(topic: string, partition: number, offset: number, maxBytes = 1 << 20): Promise<FetchResult> {
    return this.withFreshMetadata(async () => {
      const broker = await this.leaderOf(topic, partition);
      const response = (await broker.fetch({
        replicaId: -1,
        isolationLevel: 1, // READ_COMMITTED: what consumers see
        maxWaitTime: 0,
        minBytes: 1,
        maxBytes,
        topics: [{ topic, partitions: [{ partition, fetchOffset: String(offset), maxBytes }] }],
      })) as FetchResponse;
      const data = response.responses.find((r) => r.topicName === topic)?.partitions.find((p) => p.partition === partition);
      if (!data) throw new Error(`fetch of ${topic}/${partition} returned no data for the partition`);
      const records: RawRecord[] = [];
      for (const m of data.messages) {
        const at = Number(m.offset);
        if (at < offset || m.isControlRecord) continue;
        records.push({ offset: at, key: m.key, value: m.value });
      }
      return { records, highWatermark: Number(data.highWatermark) };
    });
  }

  /** Commit `offset` (the next to read) for a group with no running members. */
  async commitOffset(groupId: string, topic: string, partition: number, offset: number): Promise<void> {
    const coordinator = await this.cluster.findGroupCoordinator({ groupId });
    await coordinator.offsetCommit({
      groupId,
      groupGenerationId: -1,
      memberId: "",
      topics: [{ topic, partitions: [{ partition, offset: String(offset) }] }],
    });
  }

  async disconnect(): Promise<void> {
    await this.cluster.disconnect();
  }

  private async leaderOf(topic: string, partition: number): Promise<Broker> {
    await this.cluster.refreshMetadataIfNecessary();
    const leaders = this.cluster.findLeaderForPartitions(topic, [partition]);
    const nodeId = Object.keys(leaders)[0];
    if (nodeId === undefined) throw Object.assign(new Error(`no leader known for ${topic}/${partition}`), { type: "LEADER_NOT_AVAILABLE" });
    return this.cluster.findBroker({ nodeId });
  }

  private async withFreshMetadata<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (err) {
        const type = (err as { type?: string }).type ?? "";
        const retriable = STALE_METADATA.has(type) || (err as Error).name === "KafkaJSConnectionError";
        // Up to ~3 s in all: a leader election on a busy broker takes that long.
        if (!retriable || attempt >= 6) throw err;
        await Bun.sleep(50 * 2 ** attempt);
        await this.cluster.refreshMetadata().catch(() => {});
      }
    }
  }
}
