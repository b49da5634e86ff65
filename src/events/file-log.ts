/**
 * The embedded event log: append-only segment files on local disk.
 *
 * Layout: `<dir>/<stream>/<partition>/<20-digit base offset>.seg` (see segment.ts for the
 * record framing) and `<dir>/<stream>/_groups/<group>.json` for committed group offsets.
 */
import { mkdirSync, readdirSync } from "node:fs";
import { open, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { acquireDirLock } from "./dir-lock.ts";
import { STREAMS, type StreamName } from "./envelope.ts";
import {
  partitionFor,
  type AppendInput,
  type AppendResult,
  type ConsumeOptions,
  type EventLog,
  type StoredEvent,
  type Subscription,
} from "./event-log.ts";
import { FilePartition } from "./file-partition.ts";
import { GroupOffsetStore } from "./group-offsets.ts";
import { type FramedChunk, PollingConsumer } from "./polling-consumer.ts";
import { type RecordBody, typeFilter } from "./segment.ts";

export interface FileEventLogOptions {
  /** Data directory (created if missing). */
  dir: string;
  /** Partitions per stream (default 1). An existing stream never shrinks. */
  partitions?: Partial<Record<StreamName, number>>;
  /** Roll to a new segment file past this size (default 64 MiB). */
  segmentBytes?: number;
  /** fsync at all (default true). */
  fsync?: boolean;
  /**
   * 0 (default) = fsync every write before acknowledging it; N > 0 = acknowledge a write once
   * handed to the OS and fsync within N ms (a process crash loses nothing acknowledged; a power
   * loss at most the last N ms).
   */
  fsyncIntervalMs?: number;
}

interface StreamState {
  partitions: FilePartition[];
  groups: GroupOffsetStore;
  consumers: Set<PollingConsumer>;
}

/** Data dirs open in this process: two writers on one dir would corrupt it. */
const openDirs = new Set<string>();

/**
 * Embedded, durable {@link EventLog} over segment files.
 *
 * - `append` is durable when it resolves: records are framed with a CRC, written with one
 *   write per partition (concurrent appends are group-committed) and fsynced (per write, or
 *   within `fsyncIntervalMs`).
 * - `open` rebuilds a sparse offset index by scanning the segments and repairs a torn tail
 *   left by a crash (truncating to the last complete record, with a warning).
 * - `consume` polls per partition from the group's committed offset and is woken by appends.
 * One process per data directory: a `LOCK` file (dir-lock.ts) refuses a second one.
 */
export class FileEventLog implements EventLog {
  readonly kind = "file" as const;
  /** No new appends or subscriptions. */
  private closed = false;
  /** Consumers stopped and files closed (or closing): no reads or commits either. */
  private shut = false;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly dir: string,
    private readonly streams: Map<StreamName, StreamState>,
    private readonly releaseLock: () => void,
  ) {}

  /** Open (or create) the log in `opts.dir`, recovering from a crash if needed. */
  static async open(opts: FileEventLogOptions): Promise<FileEventLog> {
    const dir = resolve(opts.dir);
    if (openDirs.has(dir)) throw new Error(`FileEventLog: ${dir} is already open in this process`);
    const segmentBytes = opts.segmentBytes ?? 64 * 1024 * 1024;
    const fsync = opts.fsync ?? true;
    if (!(segmentBytes > 0)) throw new RangeError("segmentBytes must be positive");
    mkdirSync(dir, { recursive: true });
    const release = acquireDirLock(dir); // another process on this dir would corrupt it
    openDirs.add(dir);
    const streams = new Map<StreamName, StreamState>();
    const log = new FileEventLog(dir, streams, release);
    try {
      for (const stream of STREAMS) {
        const streamDir = join(dir, stream);
        const count = partitionCount(streamDir, stream, opts.partitions?.[stream] ?? 1);
        const state: StreamState = { partitions: [], groups: new GroupOffsetStore(join(streamDir, "_groups"), fsync), consumers: new Set() };
        streams.set(stream, state);
        const onAppend = (): void => state.consumers.forEach((c) => c.wake());
        for (let p = 0; p < count; p++) {
          state.partitions.push(await FilePartition.open(join(streamDir, String(p)), `${stream}/${p}`, { segmentBytes, fsync, fsyncIntervalMs: opts.fsyncIntervalMs ?? 0, onAppend }));
        }
      }
    } catch (err) {
      await log.close();
      throw err;
    }
    return log;
  }

  partitions(stream: StreamName): number {
    return this.state(stream).partitions.length;
  }

  append(stream: StreamName, records: AppendInput[]): Promise<AppendResult[]> {
    try {
      if (this.closed) throw new Error("FileEventLog is closed: cannot append");
      const { partitions } = this.state(stream);
      const byPartition = new Map<number, { index: number; body: RecordBody }[]>();
      records.forEach((r, index) => {
        const p = partitionFor(r.key, partitions.length);
        const list = byPartition.get(p) ?? [];
        list.push({ index, body: { key: r.key, event: r.event } });
        byPartition.set(p, list);
      });
      const results: AppendResult[] = new Array(records.length);
      // Enqueued synchronously, so concurrent callers get offsets in call order.
      const writes = [...byPartition].map(async ([p, list]) => {
        const first = await this.partition(stream, p).append(list.map((l) => l.body));
        list.forEach((l, j) => (results[l.index] = { partition: p, offset: first + j }));
      });
      return Promise.all(writes).then(() => results);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Records of one partition from `offset`; all up to the end when `max` is omitted. */
  async read(stream: StreamName, partition: number, offset: number, max = Number.POSITIVE_INFINITY): Promise<StoredEvent[]> {
    this.assertOpen();
    if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`invalid offset ${offset}`);
    const records = await this.partition(stream, partition).read(offset, max);
    return records.map(({ offset, body }) => ({ stream, partition, offset, key: body.key, event: body.event }));
  }

  /** Delete whole segments holding only records before `offset` (the active one stays). */
  async deleteBefore(stream: StreamName, partition: number, offset: number): Promise<void> {
    this.assertOpen();
    await this.partition(stream, partition).deleteBefore(offset);
  }

  /**
   * Events of the given types from `offset`, looking at most `max` records; the others are
   * skipped without being parsed. `next` is where to continue.
   */
  async readTypes(stream: StreamName, partition: number, offset: number, max: number, types: readonly string[]): Promise<{ events: StoredEvent[]; next: number }> {
    this.assertOpen();
    if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`invalid offset ${offset}`);
    const wanted = new Set(types);
    const { records, next } = await this.partition(stream, partition).scan(offset, max, typeFilter(types));
    const events = records.filter((r) => wanted.has(r.body.event?.type)).map(({ offset, body }) => ({ stream, partition, offset, key: body.key, event: body.event }));
    return { events, next };
  }

  async endOffsets(stream: StreamName): Promise<number[]> {
    return this.state(stream).partitions.map((p) => p.end);
  }

  /** Committed next offsets; 0 for a partition the group never committed. */
  async committed(stream: StreamName, group: string): Promise<number[]> {
    const state = this.state(stream);
    const offsets = await state.groups.load(group);
    return state.partitions.map((_, p) => offsets.get(p) ?? 0);
  }

  async commit(stream: StreamName, group: string, partition: number, offset: number): Promise<void> {
    this.assertOpen();
    this.partition(stream, partition);
    if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`invalid offset ${offset}`);
    await this.state(stream).groups.set(group, partition, offset);
  }

  consume(
    stream: StreamName,
    group: string,
    handler: (batch: StoredEvent[]) => Promise<void>,
    opts: ConsumeOptions = {},
  ): Subscription {
    if (this.closed) throw new Error("FileEventLog is closed: cannot consume");
    if (group.length === 0) throw new RangeError("consumer group name must not be empty");
    const state = this.state(stream);
    const consumer: PollingConsumer = new PollingConsumer(stream, group, handler, opts, {
      log: this,
      readTypes: (s, p, offset, max, types) => this.readTypes(s, p, offset, max, types),
      committed: () => state.groups.load(group),
      onStopped: () => state.consumers.delete(consumer),
      deadLetter: (records) => this.append("deadletter", records),
    });
    state.consumers.add(consumer);
    return consumer;
  }

  /**
   * Like `consume`, but the handler gets each batch as where its records are on disk, unread
   * (FramedChunk: for a consumer that reads and parses in another process, the embedded
   * analytics engine). The handler checks the envelopes; offsets, commits, retries and wake-ups
   * are `consume`'s.
   */
  consumeFramed(stream: StreamName, group: string, handler: (chunk: FramedChunk) => Promise<void>, opts: Omit<ConsumeOptions, "types" | "onError"> & { onError?: (err: unknown) => void } = {}): Subscription {
    if (this.closed) throw new Error("FileEventLog is closed: cannot consume");
    if (group.length === 0) throw new RangeError("consumer group name must not be empty");
    const state = this.state(stream);
    const consumer: PollingConsumer = new PollingConsumer(stream, group, (batch) => handler(batch[0] as unknown as FramedChunk), opts, {
      log: this,
      locate: async (s, p, offset, max) => {
        this.assertOpen();
        return { stream: s, partition: p, ...this.partition(s, p).locate(offset, max) };
      },
      committed: () => state.groups.load(group),
      onStopped: () => state.consumers.delete(consumer),
    });
    state.consumers.add(consumer);
    return consumer;
  }

  async health(): Promise<{ ok: boolean; detail?: string }> {
    if (this.closed) return { ok: false, detail: "event log closed" };
    for (const [stream, state] of this.streams) {
      const bad = state.partitions.findIndex((p) => !p.healthy);
      if (bad >= 0) return { ok: false, detail: `partition ${stream}/${bad} failed to fsync; restart required` };
    }
    const probe = join(this.dir, `.health-${process.pid}`);
    try {
      const fh = await open(probe, "w");
      await fh.writeFile("ok");
      await fh.close();
      await rm(probe, { force: true });
      return { ok: true };
    } catch (err) {
      return { ok: false, detail: `data dir ${this.dir} not writable: ${String(err)}` };
    }
  }

  /** Stop consumers, finish queued appends, close files. Idempotent. */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??= (async () => {
      try {
        const states = [...this.streams.values()];
        await Promise.all(states.flatMap((s) => [...s.consumers].map((c) => c.stop())));
        this.shut = true;
        await Promise.all(states.flatMap((s) => s.partitions.map((p) => p.close())));
        await Promise.all(states.map((s) => s.groups.flush()));
      } finally {
        this.shut = true;
        openDirs.delete(this.dir);
        this.releaseLock();
      }
    })();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.shut) throw new Error("FileEventLog is closed");
  }

  private state(stream: StreamName): StreamState {
    const state = this.streams.get(stream);
    if (!state) throw new RangeError(`unknown stream ${String(stream)}`);
    return state;
  }

  private partition(stream: StreamName, partition: number): FilePartition {
    const p = this.state(stream).partitions[partition];
    if (!p) throw new RangeError(`${stream} has no partition ${partition}`);
    return p;
  }
}

/** Configured partitions, but never fewer than already exist on disk (sync; open time). */
function partitionCount(streamDir: string, stream: StreamName, configured: number): number {
  mkdirSync(streamDir, { recursive: true });
  const existing = readdirSync(streamDir).filter((d) => /^\d+$/.test(d)).length;
  if (existing > configured) {
    console.warn(`[event-log] ${stream} has ${existing} partitions on disk, more than the ${configured} configured; keeping ${existing}`);
  }
  return Math.max(configured, existing, 1);
}
