/**
 * The event envelope, as a TypeBox schema: every fact the gateway records has this shape.
 * `{ id (UUIDv7), type, v, time, tenant, requestId?, traceId?, actor?, configVersion?, payload }`
 */
import { FormatRegistry, Type as T, type Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { uuidv7 } from "./uuidv7.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// TypeBox knows no formats by itself (Elysia registers some when imported): register ours.
if (!FormatRegistry.Has("uuid")) FormatRegistry.Set("uuid", (v) => UUID.test(v));

export const EventEnvelope = T.Object({
  id: T.String({ format: "uuid", description: "UUIDv7: time-ordered, unique; a redelivered event keeps it" }),
  type: T.String({ minLength: 1, description: "Past-tense fact, e.g. request.completed" }),
  v: T.Integer({ minimum: 1, description: "Schema version of the payload" }),
  time: T.String({ description: "ISO-8601 time the fact happened" }),
  tenant: T.String({ minLength: 1 }),
  requestId: T.Optional(T.String()),
  traceId: T.Optional(T.String()),
  actor: T.Optional(T.String()),
  configVersion: T.Optional(T.Integer({ minimum: 0 })),
  payload: T.Record(T.String(), T.Unknown()),
});
export type EventEnvelope = Static<typeof EventEnvelope>;

/** The streams of the log. */
/** `alerts`: `alert.fired` / `alert.resolved` from the alert projection (src/alerts, issue 29). */
export const STREAMS = ["requests", "config", "deadletter", "alerts"] as const;
export type StreamName = (typeof STREAMS)[number];

export interface NewEvent {
  type: string;
  v?: number;
  tenant: string;
  requestId?: string;
  traceId?: string;
  actor?: string;
  configVersion?: number;
  payload: Record<string, unknown>;
  time?: Date;
}

let isoMs = Number.NaN;
let iso = "";
/** The ISO text of a millisecond, kept while events are made within it (a request's events mostly share one). */
function isoTime(ms: number): string {
  if (ms !== isoMs) {
    iso = new Date(ms).toISOString();
    isoMs = ms;
  }
  return iso;
}

/** Build a complete envelope (fresh UUIDv7 id, ISO time). */
export function makeEvent(e: NewEvent): EventEnvelope {
  const ms = e.time ? e.time.getTime() : Date.now();
  const ev: EventEnvelope = {
    id: uuidv7(ms),
    type: e.type,
    v: e.v ?? 1,
    time: isoTime(ms),
    tenant: e.tenant,
    payload: e.payload,
  };
  if (e.requestId !== undefined) ev.requestId = e.requestId;
  if (e.traceId !== undefined) ev.traceId = e.traceId;
  if (e.actor !== undefined) ev.actor = e.actor;
  if (e.configVersion !== undefined) ev.configVersion = e.configVersion;
  return ev;
}

/** Compiled once (every consumer checks every record it reads: an interpreted check cost ~8% of the gateway's CPU under load). */
const envelopeChecker = TypeCompiler.Compile(
  // The same schema, but the payload checked as "an object" without visiting each of its keys
  // (a record of unknown values accepts any key and value: the visit could never fail).
  T.Object({ ...EventEnvelope.properties, payload: T.Object({}, { additionalProperties: true }) }),
);

/** Validation errors of a value against the envelope schema (empty when valid). */
export function envelopeErrors(value: unknown): string[] {
  if (envelopeChecker.Check(value)) return [];
  return [...envelopeChecker.Errors(value)].slice(0, 5).map((e) => `${e.path || "/"}: ${e.message}`);
}
