/**
 * The usage and log-index projections in one, when the embedded analytics engine runs in a process
 * of its own on the file log: the gateway hands the engine's process where the next records of the
 * requests stream are on disk (FileEventLog.consumeFramed; the gateway reads nothing), and the
 * engine reads them, decodes each record once, checks it, and writes them with
 * `writeProjectionBatch` (the log-index, attempt and usage rows: the same code and exactly-once
 * rules as the in-process projection). The request thread parses nothing.
 *
 * One consumer group (the usage group) for both tables: the records are read once. Elsewhere
 * (Kafka, the engine inside the gateway, a ClickHouse server) `startUsageProjection` does the
 * same in this process.
 */
import { open } from "node:fs/promises";
import { deadLetterRecord } from "../events/deadletter.ts";
import { envelopeErrors } from "../events/envelope.ts";
import type { EventLog, StoredEvent, Subscription } from "../events/event-log.ts";
import type { FramedChunk } from "../events/polling-consumer.ts";
import { readRecords, type RecordBody } from "../events/segment.ts";
import { lingering } from "../projections/linger.ts";
import { writeProjectionBatch } from "../projections/usage.ts";
import type { AnalyticsStore, FramedResult } from "./store.ts";

/** The records of a chunk, read from its segment file (each one's CRC checked). */
export async function readChunk(chunk: FramedChunk): Promise<RecordBody[]> {
  const fh = await open(chunk.path, "r");
  try {
    const bodies = await readRecords(fh, chunk.start, chunk.end, chunk.skip, chunk.count);
    if (bodies.length !== chunk.count) throw new Error(`event log segment ${chunk.path}: ${bodies.length} of ${chunk.count} records found`);
    return bodies;
  } finally {
    await fh.close();
  }
}

/** Pure: the valid events of a chunk's records and the records that are not valid envelopes. */
export function decodeChunk(chunk: FramedChunk, bodies: readonly RecordBody[]): { events: StoredEvent[]; bad: FramedResult["bad"] } {
  const events: StoredEvent[] = [];
  const bad: FramedResult["bad"] = [];
  bodies.forEach((body, i) => {
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

/**
 * Engine side: the highest offset of each requests-stream partition that may have rows in the
 * tables. The engine is their only writer (one gateway owns the file log's directory and runs one
 * engine), so a chunk that starts above it cannot hold a stored row and its exactly-once lookups
 * are skipped (two of the five statements per chunk). The mark starts, per partition, at the
 * highest offset in `request_log_index` (whose rows a batch writes first, so anything a crashed
 * process wrote is below it), and is raised to a chunk's end BEFORE the chunk is written: a chunk
 * retried after a failed or partial write is looked up.
 */
export class FramedProgress {
  readonly #high = new Map<number, number>();

  /** Whether no row of `chunk` can be stored yet; marks the chunk as possibly written. */
  async unseen(store: AnalyticsStore, chunk: FramedChunk): Promise<boolean> {
    let high = this.#high.get(chunk.partition);
    if (high === undefined) {
      const [r] = await store.query<{ n: number | string; m: number | string }>(
        "SELECT count() AS n, max(offset) AS m FROM request_log_index WHERE partition = {p:UInt32}",
        { p: chunk.partition },
      );
      high = Number(r?.n ?? 0) > 0 ? Number(r!.m) : -1;
    }
    this.#high.set(chunk.partition, Math.max(high, chunk.first + chunk.count - 1));
    return chunk.first > high;
  }
}

/** Engine side: decode and check the chunk's records, then write both tables. */
export async function projectFramed(store: AnalyticsStore, chunk: FramedChunk, progress?: FramedProgress): Promise<FramedResult> {
  const { events, bad } = decodeChunk(chunk, await readChunk(chunk));
  const unseen = progress ? await progress.unseen(store, chunk) : false;
  return { rows: await writeProjectionBatch(store, events, { unseen }), bad };
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
  const project = store.projectFramed.bind(store);
  const consume = log.consumeFramed.bind(log);
  const onError = opts.onError ? { onError: opts.onError } : {};
  return lingering(opts.lingerMs ?? 500, maxBatch, (linger) =>
    consume("requests", opts.group, async (chunk) => {
      const { bad } = await project(chunk);
      if (bad.length) await log.append("deadletter", bad.map((b) => deadLetterRecord({ reason: b.reason, source: { stream: chunk.stream, partition: chunk.partition, offset: b.offset }, raw: b.raw, key: b.key })));
      await linger(chunk.count);
    }, { maxBatch, ...onError }),
  );
}
