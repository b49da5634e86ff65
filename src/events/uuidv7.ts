/** UUIDv7 (RFC 9562): 48-bit Unix ms timestamp, version 7, 12-bit monotonic counter, variant, 62 random bits. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const POOL_SIZE = 16 * 256;
let pool = new Uint8Array(POOL_SIZE);
let poolAt = POOL_SIZE;
let lastMs = -1;
let seq = 0;

/** 8 random bytes from a pooled buffer (one getRandomValues call per 512 ids). */
function randomOffset(): number {
  if (poolAt + 8 > POOL_SIZE) {
    pool = crypto.getRandomValues(new Uint8Array(POOL_SIZE));
    poolAt = 0;
  }
  const at = poolAt;
  poolAt += 8;
  return at;
}

export function uuidv7(nowMs: number = Date.now()): string {
  if (nowMs <= lastMs) {
    // Same (or earlier) millisecond: bump the counter so ids stay ordered within this process.
    seq = (seq + 1) & 0xfff;
    if (seq === 0) lastMs += 1;
    nowMs = lastMs;
  } else {
    lastMs = nowMs;
    seq = (Math.random() * 0x7ff) | 0; // random start leaves room to count up
  }
  const r = randomOffset();
  const p = pool;
  return (
    timePrefix(nowMs) +
    HEX[0x70 | ((seq >>> 8) & 0x0f)]! + HEX[seq & 0xff]! + "-" +
    HEX[0x80 | (p[r]! & 0x3f)]! + HEX[p[r + 1]!]! + "-" +
    HEX[p[r + 2]!]! + HEX[p[r + 3]!]! + HEX[p[r + 4]!]! + HEX[p[r + 5]!]! + HEX[p[r + 6]!]! + HEX[p[r + 7]!]!
  );
}

let prefixMs = -1;
let prefix = "";
/** `tttttttt-tttt-` for a millisecond, kept while ids are made within it (most events of a request share one). */
function timePrefix(ms: number): string {
  if (ms !== prefixMs) {
    const hi = Math.floor(ms / 0x1000000); // top 24 bits of the 48-bit timestamp
    const lo = ms % 0x1000000; // low 24 bits
    prefix = HEX[(hi >>> 16) & 0xff]! + HEX[(hi >>> 8) & 0xff]! + HEX[hi & 0xff]! + HEX[(lo >>> 16) & 0xff]! + "-" + HEX[(lo >>> 8) & 0xff]! + HEX[lo & 0xff]! + "-";
    prefixMs = ms;
  }
  return prefix;
}

/** The millisecond timestamp inside a UUIDv7. */
export function uuidv7Time(id: string): number {
  return parseInt(id.replace(/-/g, "").slice(0, 12), 16);
}
