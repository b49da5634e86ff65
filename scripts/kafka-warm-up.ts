/**
 * Kafka readiness probe for scripts/kafka.sh: retries every step until the deadline, whatever the
 * transient error (connection refused, coordinator loading, NOT_COORDINATOR_FOR_GROUP, not leader),
 * and when it gives up names the probe that failed last and why.
 *
 *   bun scripts/kafka-warm-up.ts 127.0.0.1:19092 90
 *
 * Steps, each retried until it passes: connect + describeCluster (a broker answers metadata),
 * create a throwaway topic and wait for its leader (partition leadership works), fetch a consumer
 * group's offsets (the group coordinator and __consumer_offsets are loaded). Exit 0 when all pass,
 * 1 with `last probe: <step>: <error>` on stderr when the deadline passes first.
 */
import { Kafka, logLevel } from "kafkajs";

const broker = process.argv[2] ?? "127.0.0.1:19092";
const timeoutS = Number(process.argv[3] ?? "90");
const deadline = Date.now() + timeoutS * 1000;
const kafka = new Kafka({ brokers: [broker], clientId: "kafka-sh", logLevel: logLevel.NOTHING, connectionTimeout: 3000, requestTimeout: 10000, retry: { retries: 0 } });

const describe = (err: unknown) => {
  const e = err as { name?: string; type?: string; message?: string };
  return [e.type ?? e.name, e.message].filter(Boolean).join(": ");
};

let attempts = 0;
/** Retry `fn` until it passes or the deadline passes; throws naming the step and its last error. */
async function probe(step: string, fn: () => Promise<unknown>): Promise<void> {
  let last = "";
  for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
    attempts++;
    try {
      await fn();
      return;
    } catch (err) {
      const why = describe(err);
      if (why !== last) console.error(`[kafka-warm-up] ${step}: not ready yet (${why}); retrying`);
      last = why;
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`last probe: ${step}: ${last}`);
    await Bun.sleep(Math.min(delay, left));
  }
}

const admin = kafka.admin();
try {
  await probe("connect + describeCluster", async () => {
    await admin.disconnect().catch(() => {});
    await admin.connect();
    await admin.describeCluster();
  });
  const topic = `kafka-sh-warm-up-${process.pid}`;
  await probe("create topic + leader elected", async () => {
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    if (!(meta.topics[0]?.partitions[0]?.leader! >= 0)) throw new Error("no leader yet");
  });
  await probe("group coordinator (fetchOffsets)", () => admin.fetchOffsets({ groupId: "kafka-sh-warm-up", topics: [topic] }));
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  console.error(`[kafka-warm-up] ready after ${attempts} probe attempts`);
  await admin.disconnect();
  process.exit(0);
} catch (err) {
  console.error(`[kafka-warm-up] broker not ready after ${timeoutS}s: ${(err as Error).message}`);
  await admin.disconnect().catch(() => {});
  process.exit(1);
}
