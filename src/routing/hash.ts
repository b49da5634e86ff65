/**
 * Stable hashing for sticky routing decisions (A/B buckets). Deterministic across processes and
 * restarts, so the same user lands in the same bucket on every gateway instance.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const utf8 = new TextEncoder();

/** 32-bit FNV-1a over the UTF-8 bytes of `text`; an unsigned integer in [0, 2^32). */
export function fnv1a32(text: string): number {
  let h = FNV_OFFSET;
  for (const byte of utf8.encode(text)) {
    h ^= byte;
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** A stable bucket in [0, 100) for `key`. */
export function stableBucket(key: string): number {
  return fnv1a32(key) % 100;
}
