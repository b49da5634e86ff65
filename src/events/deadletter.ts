/**
 * Dead letters: a record a consumer cannot read (not JSON, not a valid envelope) is never
 * dropped and never crashes the consumer. It is wrapped in a valid `deadletter.recorded`
 * envelope, appended to the `deadletter` stream, and the consumer moves past it.
 *
 * Pure functions only (no I/O), shared by every EventLog implementation:
 *   const decoded = decodeRecord(bytes);
 *   if (!decoded.ok) await log.append("deadletter", [deadLetterRecord({ reason: decoded.reason, source, raw: bytes, key })]);
 */
import { envelopeErrors, makeEvent, type EventEnvelope, type StreamName } from "./envelope.ts";
import type { AppendInput } from "./event-log.ts";

export const DEADLETTER_EVENT_TYPE = "deadletter.recorded";
/** Raw payloads longer than this (bytes) are cut in the dead letter (`truncated: true`). */
export const DEADLETTER_MAX_RAW_BYTES = 256 * 1024;
/** Tenant of a dead letter whose raw record names none. */
export const DEADLETTER_UNKNOWN_TENANT = "unknown";

export type DecodedRecord = { ok: true; event: EventEnvelope } | { ok: false; reason: string };

export interface DeadLetterSource {
  stream: StreamName;
  partition: number;
  offset: number;
}

/** Payload of a `deadletter.recorded` event. */
export interface DeadLetterPayload {
  reason: string;
  source: DeadLetterSource;
  /** The record's key, when it had one. */
  key?: string;
  /** The raw value: UTF-8 text, or base64 when the bytes are not valid UTF-8. */
  raw: string;
  rawEncoding: "utf8" | "base64";
  /** Length of the raw value in bytes (before any truncation). */
  rawBytes: number;
  truncated: boolean;
}

export interface DeadLetterInput {
  reason: string;
  source: DeadLetterSource;
  raw: Uint8Array | string | null;
  key?: string | null;
  now?: Date;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Parse and validate a record value as an event envelope. */
export function decodeRecord(raw: Uint8Array | string | null | undefined): DecodedRecord {
  if (raw === null || raw === undefined) return { ok: false, reason: "empty record (no value)" };
  let text: string;
  try {
    text = typeof raw === "string" ? raw : utf8.decode(raw);
  } catch {
    return { ok: false, reason: "value is not valid UTF-8" };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `value is not JSON: ${(err as Error).message}` };
  }
  const errors = envelopeErrors(value);
  if (errors.length > 0) return { ok: false, reason: `not a valid event envelope: ${errors.join("; ")}` };
  return { ok: true, event: value as EventEnvelope };
}

/** The `deadletter.recorded` envelope for a record that could not be read. */
export function deadLetterEvent(input: DeadLetterInput): EventEnvelope {
  const bytes = typeof input.raw === "string" ? new TextEncoder().encode(input.raw) : (input.raw ?? new Uint8Array());
  const truncated = bytes.length > DEADLETTER_MAX_RAW_BYTES;
  const kept = truncated ? bytes.subarray(0, DEADLETTER_MAX_RAW_BYTES) : bytes;
  let raw: string;
  let rawEncoding: DeadLetterPayload["rawEncoding"] = "utf8";
  try {
    raw = utf8.decode(kept);
  } catch {
    raw = Buffer.from(kept).toString("base64");
    rawEncoding = "base64";
  }
  const payload: DeadLetterPayload = {
    reason: input.reason,
    source: { ...input.source },
    raw,
    rawEncoding,
    rawBytes: bytes.length,
    truncated,
  };
  if (input.key !== undefined && input.key !== null) payload.key = input.key;
  return makeEvent({
    type: DEADLETTER_EVENT_TYPE,
    tenant: tenantOf(bytes) ?? DEADLETTER_UNKNOWN_TENANT,
    payload: payload as unknown as Record<string, unknown>,
    ...(input.now ? { time: input.now } : {}),
  });
}

/** The record to append to the `deadletter` stream (keyed by the original key, if any). */
export function deadLetterRecord(input: DeadLetterInput): AppendInput {
  return { key: input.key || `${input.source.stream}/${input.source.partition}`, event: deadLetterEvent(input) };
}

/** The tenant named by a broken record, when it is JSON with a string `tenant`. */
function tenantOf(bytes: Uint8Array): string | undefined {
  try {
    const value: unknown = JSON.parse(utf8.decode(bytes));
    if (value && typeof value === "object" && "tenant" in value) {
      const tenant = (value as { tenant: unknown }).tenant;
      if (typeof tenant === "string" && tenant.length > 0) return tenant;
    }
  } catch {
    // not JSON: no tenant to recover
  }
  return undefined;
}
