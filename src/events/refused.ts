/**
 * A record the broker will never take, whatever we retry: too large for `message.max.bytes`,
 * an invalid record. Unlike a broker being down, retrying it blocks every later event behind
 * it forever (issue 22), so the outbox sends such records to the dead-letter stream instead.
 *
 * `index`: the record of the appended batch that was refused, when known (client-side check);
 * undefined when the broker refused the produce as a whole (the outbox then sends one by one).
 */
export class RecordRefusedError extends Error {
  override name = "RecordRefusedError";
  constructor(
    message: string,
    readonly reason: string,
    readonly index?: number,
  ) {
    super(message);
  }
}

/** Kafka error types that no retry can fix for this record (kafkajs `type` of a protocol error). */
const NON_RETRIABLE_RECORD_ERRORS = new Set(["MESSAGE_TOO_LARGE", "RECORD_LIST_TOO_LARGE", "INVALID_RECORD", "INVALID_TIMESTAMP", "CORRUPT_MESSAGE"]);

/** The kafkajs error type when `err` (or a cause down its chain) is a record-level refusal. */
export function refusedRecordType(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === "string" && NON_RETRIABLE_RECORD_ERRORS.has(type)) return type;
  }
  return undefined;
}
