/**
 * The Kafka topics behind the event-log streams: `<prefix>requests` (partitioned by tenant),
 * `<prefix>config` (compacted, keyed by entity) and `<prefix>deadletter`.
 * Created at connect when missing; an existing topic keeps its partition count.
 */
import type { Admin, ITopicConfig } from "kafkajs";
import { STREAMS, type StreamName } from "./envelope.ts";

export const DEFAULT_TOPIC_PREFIX = "tollgate.";
export const DEFAULT_PARTITIONS: Record<StreamName, number> = { requests: 6, config: 1, deadletter: 1, alerts: 1 };

/** Topic-level settings per stream. Events are the source of truth: nothing expires by age. */
const TOPIC_CONFIG: Record<StreamName, Record<string, string>> = {
  requests: { "cleanup.policy": "delete", "retention.ms": "-1" },
  config: { "cleanup.policy": "compact" },
  deadletter: { "cleanup.policy": "delete", "retention.ms": "-1" },
  alerts: { "cleanup.policy": "delete", "retention.ms": "-1" },
};

export type TopicNames = Record<StreamName, string>;

export function topicNames(prefix: string): TopicNames {
  return { requests: `${prefix}requests`, config: `${prefix}config`, deadletter: `${prefix}deadletter`, alerts: `${prefix}alerts` };
}

/**
 * Create the missing topics and return the partition count of every stream (the broker's,
 * which may differ from `wanted` for topics that already existed: a warning says so).
 */
export async function ensureTopics(
  admin: Admin,
  names: TopicNames,
  wanted: Partial<Record<StreamName, number>> = {},
): Promise<Record<StreamName, number>> {
  const want = (s: StreamName): number => {
    const n = wanted[s] ?? DEFAULT_PARTITIONS[s];
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`partitions for ${s} must be a positive integer, got ${n}`);
    return n;
  };
  const existing = new Set(await admin.listTopics());
  const missing: ITopicConfig[] = STREAMS.filter((s) => !existing.has(names[s])).map((s) => ({
    topic: names[s],
    numPartitions: want(s),
    configEntries: Object.entries(TOPIC_CONFIG[s]).map(([name, value]) => ({ name, value })),
  }));
  if (missing.length > 0) {
    try {
      await admin.createTopics({ topics: missing, waitForLeaders: true });
    } catch (err) {
      // Another instance may have created them at the same moment: fine if they exist now.
      const now = new Set(await admin.listTopics());
      if (!missing.every((t) => now.has(t.topic))) throw err;
    }
  }
  const { topics } = await admin.fetchTopicMetadata({ topics: STREAMS.map((s) => names[s]) });
  const counts = {} as Record<StreamName, number>;
  for (const s of STREAMS) {
    const count = topics.find((t) => t.name === names[s])?.partitions.length ?? 0;
    if (count < 1) throw new Error(`topic ${names[s]} has no partitions`);
    if (wanted[s] !== undefined && count !== wanted[s]) {
      console.warn(`[event-log] topic ${names[s]} has ${count} partitions (configured ${wanted[s]}); keeping ${count}`);
    }
    counts[s] = count;
  }
  return counts;
}

/** Delete the topics of a prefix (tests and tooling; never called by the gateway). */
export async function deleteTopics(admin: Admin, names: TopicNames): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const topics = STREAMS.map((s) => names[s]).filter((t) => existing.has(t));
  if (topics.length > 0) await admin.deleteTopics({ topics });
}
