/**
 * The broker stops in the middle of 2,000 requests and comes back: the gateway keeps answering,
 * and every answered request's events reach the requests stream afterwards, in order, each
 * counted once by id.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { EventEnvelope } from "../../src/events/envelope.ts";
import { KafkaEventLog } from "../../src/events/kafka-log.ts";
import { readAll, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { brokerHandle } from "../helpers/kafka-broker.ts";
import { servicesOrFail, uniq } from "../helpers/services.ts";

const services = servicesOrFail(["kafka"], "broker outage under load");

if (services) {
  let gw: TestGateway | undefined;
  afterAll(async () => {
    await gw?.dispose().catch(() => {});
  });

  describe("broker outage under load", () => {
    test("2,000 requests, broker stopped after 500 and restarted after 1,500: nothing answered is missing", async () => {
      const broker = brokerHandle(services.kafkaBrokers!);
      expect(broker).toBeDefined();
      const prefix = `o${uniq()}.`;
      gw = await startTestGateway({ KAFKA_BROKERS: services.kafkaBrokers!, TOLLGATE_KAFKA_TOPIC_PREFIX: prefix });
      const answered: string[] = [];
      let sent = 0;
      let stopping: Promise<void> | undefined;
      let starting: Promise<void> | undefined;
      const worker = async () => {
        while (sent < 2000) {
          const n = sent++;
          if (n === 500) stopping = broker!.stop();
          if (n === 1500) starting = (async () => {
            await stopping;
            await broker!.start();
          })();
          const res = await fetch(`${gw!.url}/v1/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: `request ${n}` }] }),
          });
          expect(res.status).toBe(200); // the gateway keeps serving while the broker is down
          await res.arrayBuffer();
          answered.push(res.headers.get("x-request-id")!);
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      await stopping;
      await starting;
      expect(answered).toHaveLength(2000);
      const ready = (await (await fetch(`${gw.url}/ready`, { headers: { authorization: `Bearer ${gw.adminKey}` } })).json()) as { checks: { outbox?: { backlog: number; outboxed: number } } };
      console.log(`[outage] outbox after the load: ${JSON.stringify(ready.checks.outbox)}`);
      expect(ready.checks.outbox!.outboxed).toBeGreaterThan(0); // the outbox really took over
      await gw.emitter.flush();
      expect(await gw.outbox!.drained(120_000)).toBe(true);

      const reader = await KafkaEventLog.connect({ brokers: services.kafkaBrokers!.split(","), topicPrefix: prefix });
      let events: EventEnvelope[] = [];
      try {
        events = await readAll(reader, "requests");
      } finally {
        await reader.close();
      }
      // Count each event once by id (a redelivered event keeps its id).
      const firstSeen = new Map<string, EventEnvelope>();
      for (const e of events) if (!firstSeen.has(e.id)) firstSeen.set(e.id, e);
      const unique = [...firstSeen.values()];
      console.log(`[outage] ${events.length} records, ${unique.length} unique events, ${events.length - unique.length} redelivered`);
      const completed = new Set(unique.filter((e) => e.type === "request.completed").map((e) => e.requestId));
      const received = new Set(unique.filter((e) => e.type === "request.received").map((e) => e.requestId));
      const missing = answered.filter((id) => !completed.has(id) || !received.has(id));
      expect(missing).toEqual([]);
      // In order per tenant: UUIDv7 ids are increasing within the process, and the log keeps that order.
      const tenantEvents = unique.filter((e) => e.tenant === "default").map((e) => e.id);
      const outOfOrder = tenantEvents.filter((id, i) => i > 0 && id < tenantEvents[i - 1]!);
      expect(outOfOrder).toEqual([]);
    }, 300_000);
  });
}
