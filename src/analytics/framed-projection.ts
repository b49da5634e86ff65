/**
 * The usage and log-index projections in one, when the embedded analytics engine runs in a process
 * of its own on the file log: the gateway hands the engine's process where the next records of the
 * requests stream are on disk (FileEventLog.consumeFramed; the gateway reads nothing), and the
 * engine reads them, decodes each record once, checks it, and inserts the log-index rows and the usage rows (same row builders and the
 * same exactly-once rules as the in-process projections). The request thread parses nothing.
 *
 * One consumer group (the usage group) for both tables: the records are read once.
 */
import { open } from "node:fs/promises";
import { setTimeout as pauseFor } from "node:timers/promises";
import { deadLetterRecord } from "../events/deadletter.ts";
import { envelopeErrors } from "../events/envelope.ts";
import type { EventLog, StoredEvent, Subscription } from "../events/event-log.ts";
import type { FramedChunk } from "../events/polling-consumer.ts";
import { decodeFramed, readFramed } from "../events/segment.ts";
import { indexRows, writeIndexRows } from "../explorer/log-index.ts";
import { USAGE_TYPES, writeUsageBatch } from "../projections/usage.ts";
import type { AnalyticsStore, FramedResult } from "./store.ts";

const usageTypes = new Set(USAGE_TYPES);

/** The framed bytes of a chunk's records, read from its segment file. */
export async function readChunk(chunk: FramedChunk): Promise<Buffer> {
  const fh = await open(chunk.path, "r");
  try {
    const { bytes, count } = await readFramed(fh, chunk.start, chunk.end, chunk.skip, chunk.count);
    if (count !== chunk.count) throw new Error(`event log segment ${chunk.path}: ${count} of ${chunk.count} records found`);
    return bytes;
  } finally {
    await fh.close();
  }
}

/** Pure: the valid events of a chunk's bytes and the records that are not valid envelopes. */
export function decodeChunk(chunk: FramedChunk, bytes: Buffer): { events: StoredEvent[]; bad: FramedResult["bad"] } {
  const events: StoredEvent[] = [];
  const bad: FramedResult["bad"] = [];
  decodeFramed(bytes).forEach((body, i) => {
    const offset = chunk.first + i;
    const errors = body ? envelopeErrors(body.event) : ["no record"];
    if (!body || errors.length) {
      bad.push({ offset, key: typeof body?.key === "string" ? body.key : "", reason: `not a valid event envelope: ${errors.join("; ")}`, raw: JSON.stringify(body?.event) ?? "" });
      return;
    }
    events.push({ stream: chunk.stream, partition: chunk.partition, offset, key: body.key, event: body.event });
  });
  return { events, bad };
}

/** Engine side: index every event of the chunk, then write its usage and attempt rows exactly once. */
export async function projectFramed(store: AnalyticsStore, chunk: FramedChunk): Promise<FramedResult> {
  const { events, bad } = decodeChunk(chunk, await readChunk(chunk));
  await writeIndexRows(store, indexRows(events));
  const { rows } = await writeUsageBatch(store, events.filter((e) => usageTypes.has(e.event.type)));
  return { rows, bad };
}

export interface FramedProjectionOptions {
  group: string;
  /** Records per read (default 32000). */
  maxBatch?: number;
  /** After a read that did not fill `maxBatch`, wait this long (default 500 ms): fewer, larger inserts. */
  lingerMs?: number;
  onError?: (err: unknown) => void;
}

/** Gateway side: feed the requests stream to `store.projectFramed`; invalid records go to the dead letters. */
export function startFramedProjection(log: EventLog, store: AnalyticsStore, opts: FramedProjectionOptions): Subscription {
  if (!log.consumeFramed || !store.projectFramed) throw new Error("framed projection: needs the file log and the engine in its own process");
  const maxBatch = opts.maxBatch ?? 32000;
  const lingerMs = opts.lingerMs ?? 500;
  const halt = new AbortController();
  const project = store.projectFramed.bind(store);
  const sub = log.consumeFramed(
    "requests",
    opts.group,
    async (chunk) => {
      const { bad } = await project(chunk);
      if (bad.length) await log.append("deadletter", bad.map((b) => deadLetterRecord({ reason: b.reason, source: { stream: chunk.stream, partition: chunk.partition, offset: b.offset }, raw: b.raw, key: b.key })));
      if (chunk.count < maxBatch * 0.9 && lingerMs > 0) await pauseFor(lingerMs, undefined, { signal: halt.signal }).catch(() => {});
    },
    { maxBatch, ...(opts.onError ? { onError: opts.onError } : {}) },
  );
  return {
    stop() {
      halt.abort();
      return sub.stop();
    },
  };
}
