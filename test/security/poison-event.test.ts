/**
 * Issue 22, finding 2: one unauthenticated request must not stop the Kafka outbox.
 * - Identifiers are bounded (≤ 256 characters) in the schema and in the rejected-request path:
 *   a 1.5 MB `model` is a 400, and the event recording it carries at most 256 characters.
 * - On real Kafka, an event the broker can never take (past the encoded-size cap, or refused by
 *   the broker itself for a topic's `max.message.bytes`) goes to the dead-letter stream, with a
 *   metric, and every later event still reaches the broker.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { ConfigResourceTypes } from "kafkajs";
import { MAX_ID_CHARS } from "../../src/canonical/limits.ts";
import type { EventEnvelope } from "../../src/events/envelope.ts";
import { createKafka } from "../../src/events/kafka-client.ts";
import { KafkaEventLog } from "../../src/events/kafka-log.ts";
import { definePlugin } from "../../src/pipeline/plugin.ts";
import { post, readAll, startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";
import { servicesOrFail, uniq } from "../helpers/services.ts";

const chat = (content: string, extra: Record<string, unknown> = {}) => ({ model: "echo", messages: [{ role: "user", content }], ...extra });

describe("identifiers are bounded before they reach an event", () => {
  let gw: TestGateway;
  afterAll(() => gw?.dispose());

  test("a 1.5 MB model is a 400, and the rejected-request events carry at most 256 characters of it", async () => {
    gw = await startTestGateway();
    const res = await post(`${gw.url}/v1/chat/completions`, chat("hi", { model: "m".repeat(1_500_000) }));
    expect(res.status).toBe(400);
    const id = res.headers.get("x-request-id");
    const events = (await gw.events()).filter((e) => e.requestId === id);
    expect(events.map((e) => e.type).sort()).toEqual(["request.completed", "request.received"]);
    for (const e of events) {
      expect(JSON.stringify(e).length).toBeLessThan(4096);
      const model = (e.payload.model ?? e.payload.requestedModel) as string;
      expect(model.length).toBeLessThanOrEqual(MAX_ID_CHARS);
    }
  });

  test("257 characters of model, user, service or metadata are refused with the field named; 256 pass", async () => {
    const long = "u".repeat(MAX_ID_CHARS + 1);
    const cases: Array<[Record<string, unknown>, Record<string, string>, string]> = [
      [{ model: long }, {}, "model"],
      [{ user: long }, {}, "user"],
      [{ metadata: { service: long } }, {}, "metadata.service"],
      [{}, { "x-tollgate-service": long }, "x-tollgate-service"],
      [{}, { "x-tollgate-user": long }, "x-tollgate-user"],
    ];
    for (const [body, headers, param] of cases) {
      const res = await post(`${gw.url}/v1/chat/completions`, chat("hi", body), headers);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { param: string } }).error.param).toBe(param);
    }
    const gen = await post(`${gw.url}/api/v1/generate`, { prompt: "hi", service: long });
    expect(gen.status).toBe(400);
    const ok = await post(`${gw.url}/v1/chat/completions`, chat("hi", { user: "u".repeat(MAX_ID_CHARS) }));
    expect(ok.status).toBe(200);
  });
});

const services = servicesOrFail(["kafka"], "poison events on Kafka");

if (services) {
  /** A test plugin that records an event of `bytes` when the prompt says "poison <bytes>". */
  const poisoner = definePlugin({
    name: "test-poisoner",
    version: "1.0.0",
    phases: {
      inspect(ctx) {
        const m = /^poison (\d+)$/.exec(String(ctx.request.messages.at(-1)?.content ?? ""));
        if (m) ctx.emit({ type: "test.oversized", payload: { blob: "x".repeat(Number(m[1])) } });
      },
    },
  });

  async function readTopic(prefix: string, stream: "requests" | "deadletter"): Promise<EventEnvelope[]> {
    const reader = await KafkaEventLog.connect({ brokers: services!.kafkaBrokers!.split(","), topicPrefix: prefix });
    try {
      return await readAll(reader, stream);
    } finally {
      await reader.close();
    }
  }

  async function run(prefix: string, poisonBytes: number, before?: () => Promise<void>) {
    const gw = await startTestGateway({ KAFKA_BROKERS: services!.kafkaBrokers!, TOLLGATE_KAFKA_TOPIC_PREFIX: prefix }, { plugins: [poisoner] });
    try {
      await before?.();
      const poisoned = await post(`${gw.url}/v1/chat/completions`, chat(`poison ${poisonBytes}`));
      expect(poisoned.status).toBe(200);
      const after: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await post(`${gw.url}/v1/chat/completions`, chat(`after ${i}`));
        expect(res.status).toBe(200);
        after.push(res.headers.get("x-request-id")!);
      }
      await gw.emitter.flush();
      // The outbox moves on: everything reaches the broker (before the fix: retried forever).
      expect(await gw.outbox!.drained(30_000)).toBe(true);
      const metrics = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${gw.adminKey}` } })).text();
      expect(metrics).toMatch(/^tollgate_outbox_deadlettered_total 1$/m);
      const requests = await readTopic(prefix, "requests");
      const completed = new Set(requests.filter((e) => e.type === "request.completed").map((e) => e.requestId));
      expect(after.filter((id) => !completed.has(id))).toEqual([]);
      expect(completed.has(poisoned.headers.get("x-request-id")!)).toBe(true); // its other events went through
      expect(requests.some((e) => e.type === "test.oversized")).toBe(false);
      const dead = await waitFor(async () => (await readTopic(prefix, "deadletter")).find((e) => e.type === "deadletter.recorded"), 10_000, "the dead letter");
      expect(dead.payload).toMatchObject({ source: { stream: "requests" } });
      expect(Number(dead.payload.rawBytes)).toBeGreaterThan(poisonBytes);
      expect(dead.tenant).toBe("default");
      return dead;
    } finally {
      await gw.dispose();
    }
  }

  describe("a record Kafka refuses for good goes to the dead-letter stream; the outbox moves on", () => {
    test("past the encoded-size cap (1.2 MB event)", async () => {
      const dead = await run(`p${uniq()}.`, 1_200_000);
      expect(String(dead.payload.reason)).toContain("event_too_large");
      expect(dead.payload.truncated).toBe(true); // the dead letter keeps the first 256 KiB
    }, 120_000);

    test("refused by the broker itself (topic max.message.bytes lowered to 100 kB, a 150 kB event)", async () => {
      const prefix = `q${uniq()}.`;
      const dead = await run(prefix, 150_000, async () => {
        const admin = createKafka({ brokers: services!.kafkaBrokers!.split(",") }).admin();
        await admin.connect();
        try {
          await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: `${prefix}requests`, configEntries: [{ name: "max.message.bytes", value: "100000" }] }] });
        } finally {
          await admin.disconnect();
        }
      });
      expect(String(dead.payload.reason)).toContain("message_too_large");
      expect(dead.payload.truncated).toBe(false);
    }, 120_000);
  });
}
