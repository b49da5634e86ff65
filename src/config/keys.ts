/**
 * Virtual keys: `tg-` + 32 random base62 characters (~190 bits). The gateway keeps only the
 * SHA-256 hash (hex) and a short visible prefix; the key itself is shown once, at creation.
 *
 * @example
 * const key = generateKey();          // "tg-4fT0…" (shown to the admin once)
 * const fields = { hash: hashKey(key), prefix: keyPrefix(key) };
 */
import { createHash } from "node:crypto";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz";
export const KEY_BODY_LENGTH = 32;
export const KEY_PATTERN = /^tg-[0-9A-Za-z]{32}$/;
/** Characters of a key shown in lists and events: `tg-` and 5 more. */
export const PREFIX_LENGTH = 8;

/** `n` uniformly random characters of `alphabet` (rejection sampling: no modulo bias). */
function randomChars(n: number, alphabet: string): string {
  const limit = 256 - (256 % alphabet.length);
  let out = "";
  while (out.length < n) {
    const bytes = crypto.getRandomValues(new Uint8Array(n * 2));
    for (const b of bytes) {
      if (b < limit) out += alphabet[b % alphabet.length];
      if (out.length === n) break;
    }
  }
  return out;
}

/** A new virtual key: `tg-` + 32 base62 characters. */
export function generateKey(): string {
  return `tg-${randomChars(KEY_BODY_LENGTH, BASE62)}`;
}

/** Whether a string has the shape of a virtual key (says nothing about whether it exists). */
export function isWellFormedKey(key: string): boolean {
  return KEY_PATTERN.test(key);
}

/** SHA-256 of the key, lower-case hex: what config stores and what auth looks up. */
export function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** The visible part of a key (`tg-AbCdE`). */
export function keyPrefix(key: string): string {
  return key.slice(0, PREFIX_LENGTH);
}

/** A key id: `key_` + a lower-case ULID (48-bit time, 80 random bits): sortable by creation. */
export function newKeyId(now = Date.now()): string {
  let time = "";
  for (let t = now, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD[t % 32] + time;
  return `key_${time}${randomChars(16, CROCKFORD)}`;
}
