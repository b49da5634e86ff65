/**
 * One partition of the file event log: a directory of segment files, an in-memory sparse
 * index, a group-committing writer (appends queued while a write is in flight go out in the
 * next single write), fsync per write or on a short interval, and reads.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { open, rm, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import {
  encodeRecords,
  HEADER_BYTES,
  INDEX_EVERY,
  parseSegmentFileName,
  readRecords,
  scanSegment,
  segmentFileName,
  type RawFilter,
  type RecordBody,
} from "./segment.ts";

interface Segment {
  base: number;
  path: string;
  /** Records and bytes written (handed to the OS; synced per write or within the fsync interval). */
  count: number;
  size: number;
  /** Byte position of record i*INDEX_EVERY. */
  positions: number[];
}

interface PendingAppend {
  buf: Buffer;
  count: number;
  resolve: (firstOffset: number) => void;
  reject: (err: unknown) => void;
}

export interface PartitionOptions {
  segmentBytes: number;
  fsync: boolean;
  /**
   * With fsync on: 0 = fsync every write before it resolves; N > 0 = a write resolves once
   * handed to the OS and fsync follows within N ms (the power-loss window; a process crash
   * loses nothing written).
   */
  fsyncIntervalMs?: number;
  /** Called after records were written (wakes consumers). */
  onAppend: () => void;
}

export class FilePartition {
  private queue: PendingAppend[] = [];
  private flushing: Promise<void> | null = null;
  private closed = false;
  /** Set after an fsync failure: the page cache state is unknown, so stop writing. */
  private failure: Error | null = null;
  /** Interval fsync: the pending timer and the running sync. */
  private syncTimer: ReturnType<typeof setTimeout> | undefined;
  private syncing: Promise<void> | undefined;

  private constructor(
    private readonly dir: string,
    private readonly segments: Segment[],
    private active: FileHandle,
    private readonly opts: PartitionOptions,
  ) {}

  /** Open (creating if needed) a partition directory, recovering from a torn tail. */
  static async open(dir: string, label: string, opts: PartitionOptions): Promise<FilePartition> {
    const segments = recoverSegments(dir, label, opts.fsync);
    const last = segments[segments.length - 1];
    if (!last) throw new Error("unreachable: a partition always has a segment");
    return new FilePartition(dir, segments, await open(last.path, "r+"), opts);
  }

  /** Next offset to be written. */
  get end(): number {
    const last = this.segments[this.segments.length - 1];
    return last ? last.base + last.count : 0;
  }

  get healthy(): boolean {
    return this.failure === null;
  }

  /** Queue records for the next write; resolves with the offset of the first once written (see fsyncIntervalMs). */
  append(records: readonly RecordBody[]): Promise<number> {
    if (this.closed) return Promise.reject(new Error("FileEventLog is closed: cannot append"));
    if (this.failure) return Promise.reject(this.failure);
    let buf: Buffer;
    try {
      buf = encodeRecords(records);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ buf, count: records.length, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  /** Durable records from `offset` (inclusive), at most `max`. */
  async read(offset: number, max: number): Promise<{ offset: number; body: RecordBody }[]> {
    return (await this.scan(offset, max)).records;
  }

  /**
   * Like `read`, but records `keep` turns down are skipped unparsed (`max` counts them too);
   * `next` is the offset after the last record looked at.
   */
  async scan(offset: number, max: number, keep?: RawFilter): Promise<{ records: { offset: number; body: RecordBody }[]; next: number }> {
    const out: { offset: number; body: RecordBody }[] = [];
    let next = offset;
    for (let seen = 0; seen < max; ) {
      const at = this.locate(next, max - seen); // one segment per step
      if (at.count === 0) break;
      const fh = await open(at.path, "r");
      try {
        const bodies = keep ? await readRecords(fh, at.start, at.end, at.skip, at.count, keep) : await readRecords(fh, at.start, at.end, at.skip, at.count);
        bodies.forEach((body, j) => {
          if (body) out.push({ offset: at.first + j, body });
        });
        seen += bodies.length;
        next = at.first + bodies.length;
        if (bodies.length < at.count) break;
      } finally {
        await fh.close();
      }
    }
    return { records: out, next };
  }

  /**
   * Where at most `max` records from `offset` are (one segment; the next call goes on into the
   * next), without reading them: see FramedChunk. `count` 0 when there are none yet.
   */
  locate(offset: number, max: number): { first: number; count: number; path: string; start: number; skip: number; end: number } {
    for (let i = this.segmentIndexOf(offset); i < this.segments.length; i++) {
      const seg = this.segments[i];
      if (!seg) break;
      const { count, size } = seg; // snapshot: a concurrent append may grow the segment
      const rel = Math.max(0, offset - seg.base);
      if (rel >= count) continue;
      const k = Math.floor(rel / INDEX_EVERY);
      return { first: seg.base + rel, count: Math.min(max, count - rel), path: seg.path, start: seg.positions[k] ?? 0, skip: rel - k * INDEX_EVERY, end: size };
    }
    return { first: offset, count: 0, path: "", start: 0, skip: 0, end: 0 };
  }

  /** Delete segments (never the active one) whose records all lie before `offset`. */
  async deleteBefore(offset: number): Promise<void> {
    while (this.segments.length > 1) {
      const first = this.segments[0]!;
      if (first.base + first.count > offset) return;
      this.segments.shift();
      await rm(first.path, { force: true });
    }
  }

  /** Wait for queued appends, then release the file handle. Later appends reject. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing) await this.flushing;
    if (this.syncTimer) {
      clearTimeout(this.syncTimer);
      this.syncTimer = undefined;
      this.sync();
    }
    await this.syncing;
    await this.active.close();
  }

  /** fsync the active segment now (interval mode); a failure marks the partition failed. */
  private sync(): void {
    const fh = this.active;
    const run: Promise<void> = (this.syncing ?? Promise.resolve())
      .then(() => fh.datasync())
      .catch((err: unknown) => {
        this.failure ??= new Error(`event log partition ${this.dir} failed to fsync; reopen the log`, { cause: err });
      })
      .finally(() => {
        if (this.syncing === run) this.syncing = undefined;
      });
    this.syncing = run;
  }

  private scheduleSync(): void {
    if (this.syncTimer) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      this.sync();
    }, this.opts.fsyncIntervalMs);
  }

  private segmentIndexOf(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.segments[mid]?.base ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      try {
        let offset = await this.write(
          batch.length === 1 && batch[0] ? batch[0].buf : Buffer.concat(batch.map((b) => b.buf)),
          batch.reduce((n, b) => n + b.count, 0),
        );
        for (const b of batch) {
          b.resolve(offset);
          offset += b.count;
        }
        this.opts.onAppend();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.flushing = null;
  }

  /** One write (+ fsync) of framed records at the end of the active segment. */
  private async write(buf: Buffer, count: number): Promise<number> {
    if (this.failure) throw this.failure;
    let seg = this.segments[this.segments.length - 1];
    if (!seg) throw new Error("unreachable: no active segment");
    if (seg.size > 0 && seg.size + buf.length > this.opts.segmentBytes) seg = await this.roll(seg);
    try {
      // A synchronous write to the page cache: microseconds, and no thread-pool round trip
      // between the group commit and the answers waiting on it.
      for (let done = 0; done < buf.length; ) {
        done += writeSync(this.active.fd, buf, done, buf.length - done, seg.size + done);
      }
    } catch (err) {
      await this.active.truncate(seg.size).catch(() => {});
      throw err;
    }
    if (this.opts.fsync && (this.opts.fsyncIntervalMs ?? 0) > 0) {
      this.scheduleSync();
    } else if (this.opts.fsync) {
      try {
        await this.active.datasync();
      } catch (err) {
        this.failure = new Error(`event log partition ${this.dir} failed to fsync; reopen the log`, { cause: err });
        throw this.failure;
      }
    }
    for (let i = 0, pos = 0; i < count; i++) {
      if ((seg.count + i) % INDEX_EVERY === 0) seg.positions.push(seg.size + pos);
      pos += HEADER_BYTES + buf.readUInt32LE(pos);
    }
    const first = seg.base + seg.count;
    seg.count += count;
    seg.size += buf.length;
    return first;
  }

  private async roll(prev: Segment): Promise<Segment> {
    const base = prev.base + prev.count;
    const seg: Segment = { base, path: join(this.dir, segmentFileName(base)), count: 0, size: 0, positions: [] };
    const fh = await open(seg.path, "wx+");
    if (this.opts.fsync) await syncDirAsync(this.dir);
    const old = this.active;
    // Interval mode: the old segment's unsynced tail is synced before its handle goes.
    if (this.syncTimer) {
      clearTimeout(this.syncTimer);
      this.syncTimer = undefined;
      this.sync();
    }
    await this.syncing;
    this.active = fh;
    this.segments.push(seg);
    await old.close();
    return seg;
  }
}

/**
 * Scan a partition's segments (sync; open time only). A torn or corrupt tail of the last
 * segment is truncated. Corruption in an earlier segment (or a gap in base offsets) ends the
 * partition there: the bad bytes are saved to `<segment>.corrupt-tail` and later segments
 * renamed to `*.quarantined`, so that nothing is deleted and appends continue consistently.
 */
function recoverSegments(dir: string, label: string, fsync: boolean): Segment[] {
  mkdirSync(dir, { recursive: true });
  const bases = readdirSync(dir)
    .map(parseSegmentFileName)
    .filter((b): b is number => b !== null)
    .sort((a, b) => a - b);
  const segments: Segment[] = [];
  for (let i = 0; i < bases.length; i++) {
    const base = bases[i] ?? 0;
    const path = join(dir, segmentFileName(base));
    const prev = segments[segments.length - 1];
    const isLast = i === bases.length - 1;
    if (prev && prev.base + prev.count !== base) {
      console.warn(`[event-log] ${label}: segment ${segmentFileName(base)} does not follow offset ${prev.base + prev.count}; later segments quarantined`);
      quarantine(dir, bases.slice(i));
      break;
    }
    const buf = readFileSync(path);
    const scan = scanSegment(buf);
    segments.push({ base, path, count: scan.count, size: scan.validBytes, positions: scan.positions });
    if (scan.error === undefined) continue;
    if (isLast) {
      console.warn(`[event-log] ${label}: torn/corrupt tail in ${segmentFileName(base)} (${scan.error}); truncated ${buf.length - scan.validBytes} bytes after offset ${base + scan.count - 1}`);
    } else {
      console.warn(`[event-log] ${label}: corruption in ${segmentFileName(base)} (${scan.error}); partition ends at offset ${base + scan.count}, rest quarantined`);
      writeFileSync(`${path}.corrupt-tail`, buf.subarray(scan.validBytes));
      quarantine(dir, bases.slice(i + 1));
    }
    truncateSync(path, scan.validBytes);
    if (fsync) syncFile(path);
    break;
  }
  if (segments.length === 0) {
    const path = join(dir, segmentFileName(0));
    closeSync(openSync(path, "a"));
    if (fsync) syncDir(dir);
    segments.push({ base: 0, path, count: 0, size: 0, positions: [] });
  }
  return segments;
}

function quarantine(dir: string, bases: number[]): void {
  for (const b of bases) renameSync(join(dir, segmentFileName(b)), join(dir, `${segmentFileName(b)}.quarantined`));
}

function syncFile(path: string): void {
  const fd = openSync(path, "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsync a directory so a created/renamed entry survives a power loss. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export async function syncDirAsync(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
