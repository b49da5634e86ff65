/**
 * The JSON text of an event envelope, made once. On Kafka the gateway writes each event twice —
 * to the local write-ahead outbox (segment.ts), then as the Kafka message value (kafka-log.ts) —
 * from the same in-memory envelope (the outbox forwards what it just wrote); the second write
 * reuses the first one's text. Envelopes are not changed after they are made (makeEvent).
 */
import type { EventEnvelope } from "./envelope.ts";

const texts = new WeakMap<EventEnvelope, string>();

export function eventJson(event: EventEnvelope): string {
  let text = texts.get(event);
  if (text === undefined) {
    text = JSON.stringify(event);
    texts.set(event, text);
  }
  return text;
}
