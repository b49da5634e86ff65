/**
 * Admin keys of named identities: `tga-` + 32 random base62 characters. Only the SHA-256 hash
 * and the visible prefix are kept (like virtual keys, src/config/keys.ts).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { generateKey, hashKey, newKeyId } from "../config/keys.ts";

/** The one constant-time comparison of a credential with the bootstrap admin key (digests: equal lengths, no length leak). */
export function matchesAdminKey(adminKey: string | undefined, given: string | undefined): boolean {
  if (!adminKey || given === undefined) return false;
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(given), digest(adminKey));
}

export const ADMIN_KEY_PATTERN = /^tga-[0-9A-Za-z]{32}$/;

export function generateAdminKey(): string {
  return `tga-${generateKey().slice(3)}`;
}
export const hashAdminKey = hashKey;
/** `tga-` and 4 more characters. */
export function adminKeyPrefix(key: string): string {
  return key.slice(0, 8);
}
/** `adm_` + a lower-case ULID. */
export function newAdminId(now = Date.now()): string {
  return `adm_${newKeyId(now).slice(4)}`;
}
