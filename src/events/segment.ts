/**
 * Segment files of the file event log: record framing, open-time scan, and reads.
 *
 * A segment is `<20-digit base offset>.seg`; it holds records back to back, each framed as
 * `[u32 LE payload length][u32 LE crc32(payload)][payload = UTF-8 JSON {key, event}]`.
 */
import type { FileHandle } from "node:fs/promises";
import { crc32 } from "node:zlib";
import type { EventEnvelope } from "./envelope.ts";
import { eventJson } from "./event-json.ts";

export const HEADER_BYTES = 8;
/** Upper bound for one record; a larger length in a header means corruption. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;
/** One sparse index entry (byte position) every this many records. */
export const INDEX_EVERY = 32;
const READ_CHUNK = 1024 * 1024;

export interface RecordBody {
  key: string;
  event: EventEnvelope;
}

export function segmentFileName(baseOffset: number): string {
  return `${String(baseOffset).padStart(20, "0")}.seg`;
}

/** Base offset of a segment file name, or null if the name is not a segment. */
export function parseSegmentFileName(name: string): number | null {
  const m = /^(\d{20})\.seg$/.exec(name);
  return m?.[1] === undefined ? null : Number(m[1]);
}

/** Frame records (one buffer, written with one write). */
export function encodeRecords(records: readonly RecordBody[]): Buffer {
  // The text of JSON.stringify({ key, event }), with the event's own text kept for a second write (event-json.ts).
  const payloads = records.map((r) => Buffer.from(`{"key":${JSON.stringify(r.key)},"event":${eventJson(r.event)}}`, "utf8"));
  const out = Buffer.allocUnsafe(payloads.reduce((n, p) => n + HEADER_BYTES + p.length, 0));
  let pos = 0;
  for (const p of payloads) {
    if (p.length > MAX_RECORD_BYTES) throw new RangeError(`event log record of ${p.length} bytes exceeds ${MAX_RECORD_BYTES}`);
    out.writeUInt32LE(p.length, pos);
    out.writeUInt32LE(crc32(p), pos + 4);
    p.copy(out, pos + HEADER_BYTES);
    pos += HEADER_BYTES + p.length;
  }
  return out;
}

/**
 * Check the record at `pos`: its total framed size, or a reason it is incomplete/corrupt.
 * Zero-length records are rejected: a zero-filled tail would otherwise pass the CRC.
 */
export function checkRecord(buf: Buffer, pos: number, end: number): { size: number } | { error: string } {
  if (end - pos < HEADER_BYTES) return { error: `short header (${end - pos} bytes)` };
  const len = buf.readUInt32LE(pos);
  if (len === 0 || len > MAX_RECORD_BYTES) return { error: `invalid record length ${len}` };
  if (pos + HEADER_BYTES + len > end) return { error: `record length ${len} runs past end of file` };
  const payload = buf.subarray(pos + HEADER_BYTES, pos + HEADER_BYTES + len);
  if (crc32(payload) !== buf.readUInt32LE(pos + 4)) return { error: "crc mismatch" };
  return { size: HEADER_BYTES + len };
}

/**
 * A RawFilter keeping records whose JSON may hold one of `types` as its envelope type: a cheap
 * byte search, so most other records are never parsed. (A match can be a false positive, e.g.
 * the text inside a payload; callers check the parsed type.)
 */
export function typeFilter(types: readonly string[]): RawFilter {
  const needles = types.map((t) => Buffer.from(`"type":${JSON.stringify(t)}`));
  return (payload) => needles.some((n) => payload.indexOf(n) >= 0);
}

export interface ScanResult {
  /** Complete, valid records from the start of the segment. */
  count: number;
  /** Byte position of record i*INDEX_EVERY, for each i. */
  positions: number[];
  /** Bytes covered by the valid records. */
  validBytes: number;
  /** Why scanning stopped before the end of the buffer, if it did. */
  error?: string;
}

/** Scan a whole segment's bytes, stopping at the first incomplete or corrupt record. */
export function scanSegment(buf: Buffer): ScanResult {
  const positions: number[] = [];
  let pos = 0;
  let count = 0;
  while (pos < buf.length) {
    const r = checkRecord(buf, pos, buf.length);
    if ("error" in r) return { count, positions, validBytes: pos, error: `${r.error} at byte ${pos}` };
    if (count % INDEX_EVERY === 0) positions.push(pos);
    pos += r.size;
    count++;
  }
  return { count, positions, validBytes: pos };
}

/** Decides from a record's raw JSON bytes whether to parse it (false: it is returned as null). */
export type RawFilter = (payload: Buffer) => boolean;

/**
 * Read records from an open segment between byte `start` and `end` (both on record
 * boundaries), skipping the first `skip` records and returning at most `max`. With `keep`,
 * a record it turns down is not parsed and comes back as `null` (its offset still counts).
 */
export async function readRecords(fh: FileHandle, start: number, end: number, skip: number, max: number): Promise<RecordBody[]>;
export async function readRecords(fh: FileHandle, start: number, end: number, skip: number, max: number, keep: RawFilter): Promise<(RecordBody | null)[]>;
export async function readRecords(
  fh: FileHandle,
  start: number,
  end: number,
  skip: number,
  max: number,
  keep?: RawFilter,
): Promise<(RecordBody | null)[]> {
  const out: (RecordBody | null)[] = [];
  let pos = start;
  let toSkip = skip;
  while (pos < end && out.length < max) {
    // Read a chunk; grow it when a single record is larger than the chunk.
    let want = Math.min(READ_CHUNK, end - pos);
    let buf = await readAt(fh, pos, want);
    let offset = 0;
    for (;;) {
      const r = checkRecord(buf, offset, buf.length);
      if ("error" in r) {
        if (offset === 0 && want < end - pos) {
          want = Math.min(end - pos, Math.max(want * 2, HEADER_BYTES + buf.readUInt32LE(0)));
          buf = await readAt(fh, pos, want);
          continue;
        }
        if (offset === 0) throw new Error(`event log segment corrupt at byte ${pos}: ${r.error}`);
        break; // partial record at the chunk's end: read on from it
      }
      if (toSkip > 0) toSkip--;
      else if (keep && !keep(buf.subarray(offset + HEADER_BYTES, offset + r.size))) out.push(null);
      else out.push(JSON.parse(buf.toString("utf8", offset + HEADER_BYTES, offset + r.size)) as RecordBody);
      offset += r.size;
      if (out.length >= max || offset >= buf.length) break;
    }
    pos += offset;
  }
  return out;
}

async function readAt(fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(len);
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(buf, got, len - got, pos + got);
    if (bytesRead === 0) throw new Error(`event log segment shorter than indexed (${pos + got} < ${pos + len})`);
    got += bytesRead;
  }
  return buf;
}
