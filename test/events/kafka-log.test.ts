/**
 * KafkaEventLog against a real broker (`KAFKA_BROKERS`, e.g. from
 * `eval "$(bash scripts/kafka.sh start)"`): the shared EventLog contract, plus what only
 * Kafka has (produce offsets, dead letters for foreign records, real group offsets).
 * Every log gets its own topic prefix, so tests never see each other's data.
 * Under CI=true a missing KAFKA_BROKERS is a failing test, never a skip.
 */
import { afterAll, afterEach, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { Kafka, logLevel, type Admin } from "kafkajs";
import { DEADLETTER_EVENT_TYPE, type DeadLetterPayload } from "../../src/events/deadletter.ts";
import { partitionFor, type StoredEvent } from "../../src/events/event-log.ts";
import { KafkaEventLog, type KafkaEventLogOptions } from "../../src/events/kafka-log.ts";
import { deleteTopics, topicNames } from "../../src/events/kafka-topics.ts";
import { eventLogContract, testEvent, waitFor } from "./event-log.contract.ts";
import { servicesOrFail } from "../helpers/services.ts";

const KAFKA_BROKERS = servicesOrFail(["kafka"], "KafkaEventLog")?.kafkaBrokers;

if (KAFKA_BROKERS) {
  const brokers = KAFKA_BROKERS.split(",").map((b) => b.trim()).filter(Boolean);
  const kafka = new Kafka({ clientId: "tollgate-test", brokers, logLevel: logLevel.NOTHING });
  let admin: Admin;
  /** Quick group timings for tests (the broker runs with group.initial.rebalance.delay.ms=0). */
  const tuning = { sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100, rebalanceTimeout: 5000 };

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin.disconnect();
  });

  const uniquePrefix = () => `t-${crypto.randomUUID().slice(0, 8)}.`;
  const connect = (prefix: string, extra: Partial<KafkaEventLogOptions> = {}) =>
    KafkaEventLog.connect({ brokers, topicPrefix: prefix, clientId: "tollgate-test", consumer: tuning, ...extra });

  eventLogContract("KafkaEventLog", async () => {
    const prefix = uniquePrefix();
    const log = await connect(prefix);
    return { log, cleanup: () => deleteTopics(admin, topicNames(prefix)) };
  });

  describe("KafkaEventLog on a real broker", () => {
    let prefix: string;
    let log: KafkaEventLog;

    const setup = async (extra: Partial<KafkaEventLogOptions> = {}) => {
      prefix = uniquePrefix();
      log = await connect(prefix, extra);
    };
    afterEach(async () => {
      await log?.close();
      await deleteTopics(admin, topicNames(prefix));
    });

    test("topics are created with the configured partitions; config is compacted", async () => {
      await setup({ partitions: { requests: 3 } });
      const names = topicNames(prefix);
      const { topics } = await admin.fetchTopicMetadata({ topics: Object.values(names) });
      const count = (t: string) => topics.find((m) => m.name === t)?.partitions.length;
      expect([count(names.requests), count(names.config), count(names.deadletter)]).toEqual([3, 1, 1]);
      expect(log.partitions("requests")).toBe(3);
      const configs = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: names.config, configNames: ["cleanup.policy"] }] });
      expect(configs.resources[0]?.configEntries[0]?.configValue).toBe("compact");
    });

    test("offsets returned by append are the offsets read() finds the events at", async () => {
      await setup();
      const keys = ["ta", "tb", "tc", "td", "te", "tf", "tg"];
      const recs = Array.from({ length: 60 }, (_, i) => ({ key: keys[i % keys.length] ?? "k", event: testEvent(keys[i % keys.length] ?? "k", i) }));
      const first = await log.append("requests", recs.slice(0, 25));
      const second = await log.append("requests", recs.slice(25));
      const results = [...first, ...second];
      for (const [i, r] of results.entries()) {
        expect(r.partition).toBe(partitionFor(recs[i]?.key ?? "", 6));
        const [stored] = await log.read("requests", r.partition, r.offset, 1);
        expect(stored?.offset).toBe(r.offset);
        expect(stored?.event).toEqual(recs[i]?.event as StoredEvent["event"]);
      }
      // Kafka's own view agrees: high watermarks = records per partition.
      const ends = await log.endOffsets("requests");
      for (let p = 0; p < 6; p++) expect(ends[p]).toBe(results.filter((r) => r.partition === p).length);
    });

    test("an append larger than one produce request is split, offsets stay dense and in order", async () => {
      await setup({ partitions: { requests: 1 } });
      const filler = "x".repeat(8 * 1024);
      const recs = Array.from({ length: 300 }, (_, i) => ({ key: "big", event: testEvent("big", i, { filler }) })); // ~2.4 MB
      const results = await log.append("requests", recs);
      expect(results).toEqual(recs.map((_, offset) => ({ partition: 0, offset })));
      expect((await log.read("requests", 0, 0)).map((e) => e.event.payload.seq)).toEqual(recs.map((_, i) => i));
      const huge = testEvent("big", 999, { filler: "y".repeat(1100 * 1024) });
      await expect(log.append("requests", [{ key: "big", event: huge }])).rejects.toThrow(/too large/);
    });

    test("a poison record goes to the dead-letter stream and the consumer moves on", async () => {
      await setup({ partitions: { requests: 1 } });
      const topic = topicNames(prefix).requests;
      await log.append("requests", [{ key: "acme", event: testEvent("acme", 0) }]);
      const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: () => () => 0 });
      await producer.connect();
      await producer.send({
        topic,
        messages: [
          { key: "acme", value: Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x7b]), partition: 0 },
          { key: "acme", value: JSON.stringify({ tenant: "acme", hello: "not an envelope" }), partition: 0 },
        ],
      });
      await producer.disconnect();
      await log.append("requests", [{ key: "acme", event: testEvent("acme", 3) }]);

      const got: StoredEvent[] = [];
      const group = `dlq-${crypto.randomUUID()}`;
      const sub = log.consume("requests", group, async (b) => void got.push(...b));
      try {
        await waitFor(() => got.length >= 2, "both good records");
        await waitFor(async () => (await log.committed("requests", group))[0] === 4, "commit past everything");
      } finally {
        await sub.stop();
      }
      expect(got.map((e) => [e.offset, e.event.payload.seq])).toEqual([[0, 0], [3, 3]]);

      const dead = await log.read("deadletter", 0, 0);
      expect(dead.length).toBe(2);
      const payloads = dead.map((d) => d.event.payload as unknown as DeadLetterPayload);
      expect(dead.every((d) => d.event.type === DEADLETTER_EVENT_TYPE)).toBe(true);
      expect(payloads.map((p) => p.source)).toEqual([
        { stream: "requests", partition: 0, offset: 1 },
        { stream: "requests", partition: 0, offset: 2 },
      ]);
      expect(payloads[0]?.reason).toMatch(/UTF-8|JSON/);
      expect(payloads[0]?.rawEncoding).toBe("base64");
      expect(Buffer.from(payloads[0]?.raw ?? "", "base64")).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x7b]));
      expect(payloads[1]?.reason).toMatch(/not a valid event envelope/);
      expect(JSON.parse(payloads[1]?.raw ?? "")).toEqual({ tenant: "acme", hello: "not an envelope" });
      expect(dead[1]?.event.tenant).toBe("acme");
      expect(payloads.every((p) => p.key === "acme")).toBe(true);
      // read() itself leaves unreadable records out (with a warning each) rather than failing.
      const warn = spyOn(console, "warn").mockImplementation(() => {});
      try {
        expect((await log.read("requests", 0, 0)).map((e) => e.offset)).toEqual([0, 3]);
        expect(warn).toHaveBeenCalledTimes(2);
      } finally {
        warn.mockRestore();
      }
    });

    test("committed offsets are Kafka's consumer-group offsets", async () => {
      await setup({ partitions: { requests: 2 } });
      const keys = ["k1", "k2", "k3", "k4"];
      await log.append("requests", Array.from({ length: 12 }, (_, i) => ({ key: keys[i % 4] ?? "k", event: testEvent(keys[i % 4] ?? "k", i) })));
      const group = `offsets-${crypto.randomUUID()}`;
      let n = 0;
      const sub = log.consume("requests", group, async (b) => void (n += b.length));
      const ends = await log.endOffsets("requests");
      try {
        await waitFor(() => n >= 12, "12 events");
        await waitFor(async () => JSON.stringify(await log.committed("requests", group)) === JSON.stringify(ends), "commits");
        // Kafka refuses commits from outside while the group has members.
        await expect(log.commit("requests", group, 0, 0)).rejects.toThrow(/running members/);
      } finally {
        await sub.stop();
      }
      const [viaAdmin] = await admin.fetchOffsets({ groupId: group, topics: [topicNames(prefix).requests] });
      const byPartition = Object.fromEntries((viaAdmin?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
      expect([byPartition[0], byPartition[1]]).toEqual(ends);

      // commit() (group not running) is visible to Kafka too, and a new consumer starts there.
      await log.commit("requests", group, 0, 1);
      const [after] = await admin.fetchOffsets({ groupId: group, topics: [topicNames(prefix).requests] });
      expect(after?.partitions.find((p) => p.partition === 0)?.offset).toBe("1");
      const again: StoredEvent[] = [];
      const sub2 = log.consume("requests", group, async (b) => void again.push(...b));
      try {
        await waitFor(() => again.length >= (ends[0] ?? 0) - 1, "re-read of partition 0 from offset 1");
      } finally {
        await sub2.stop();
      }
      expect(again.map((e) => e.offset)).toEqual(Array.from({ length: (ends[0] ?? 0) - 1 }, (_, i) => i + 1));
    });

    test("close is idempotent, rejects later calls, and a new connection sees the same data", async () => {
      await setup();
      await log.append("requests", [{ key: "again", event: testEvent("again", 1) }]);
      await Promise.all([log.close(), log.close()]);
      await expect(log.append("requests", [{ key: "again", event: testEvent("again", 2) }])).rejects.toThrow(/closed/);
      expect((await log.health()).ok).toBe(false);

      log = await connect(prefix);
      expect((await log.health()).ok).toBe(true);
      const [r] = await log.append("requests", [{ key: "again", event: testEvent("again", 2) }]);
      expect(r?.offset).toBe(1);
      expect((await log.read("requests", r?.partition ?? 0, 0)).map((e) => e.event.payload.seq)).toEqual([1, 2]);
    });
  });
}
