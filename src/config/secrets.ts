/**
 * Provider API keys at rest: AES-256-GCM under TOLLGATE_MASTER_KEY. Events, state, logs and API
 * responses only ever hold the ciphertext (`v1:<iv>:<tag>:<data>`, base64url) or a masked hint.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, scryptSync } from "node:crypto";

export class SecretError extends Error {
  override name = "SecretError";
}

/** 32-byte key from the master key: 64 hex chars or base64 of 32 bytes as is, else scrypt of the text. */
export function deriveKey(master: string): Buffer {
  if (/^[0-9a-f]{64}$/i.test(master)) return Buffer.from(master, "hex");
  const b64 = Buffer.from(master, "base64");
  if (b64.length === 32 && /^[A-Za-z0-9+/_-]{43}=?$/.test(master)) return b64;
  if (master.length < 16) throw new SecretError("TOLLGATE_MASTER_KEY must be at least 16 characters (or 32 bytes as hex/base64)");
  return scryptSync(master, "tollgate-master-key-v1", 32);
}

/**
 * Seal a secret. With `aad` (additional authenticated data, e.g. the provider's base URL) the
 * ciphertext (`v2:…`) only opens with the same `aad`: a stored key cannot be pointed at another
 * host without sealing it again. Without, `v1:…` (older entities).
 */
export function encryptSecret(plain: string, key: Buffer, aad?: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  if (aad !== undefined) cipher.setAAD(Buffer.from(aad, "utf8"));
  const data = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return `${aad !== undefined ? "v2" : "v1"}:${iv.toString("base64url")}:${cipher.getAuthTag().toString("base64url")}:${data.toString("base64url")}`;
}

/** Open a sealed secret; a `v2` one needs the same `aad` it was sealed with. */
export function decryptSecret(sealed: string, key: Buffer, aad?: string): string {
  const [v, iv, tag, data] = sealed.split(":");
  if ((v !== "v1" && v !== "v2") || !iv || !tag || data === undefined) throw new SecretError("not a sealed secret");
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
    if (v === "v2") decipher.setAAD(Buffer.from(aad ?? "", "utf8"));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(data, "base64url")), decipher.final()]).toString("utf8");
  } catch {
    throw new SecretError(v === "v2" ? "cannot decrypt a provider key: wrong TOLLGATE_MASTER_KEY, or its base_url changed without the key being set again" : "cannot decrypt a provider key: wrong TOLLGATE_MASTER_KEY?");
  }
}

/** The additional data a provider key is bound to: its base URL ("" for the kind's default). */
export const providerKeyAad = (baseUrl: unknown): string => `tollgate-provider-key:${typeof baseUrl === "string" ? baseUrl : ""}`;

/** `sk-…abcd`: enough to recognise a key, never enough to use it. */
export function maskKey(key: string): string {
  const tail = key.slice(-4);
  const dash = key.indexOf("-");
  const head = dash > 0 && dash <= 8 ? key.slice(0, dash + 1) : "";
  return key.length <= 8 ? "…" : `${head}…${tail}`;
}

/** A stable fingerprint of the master key (to tell instances apart that use different keys). */
export function keyFingerprint(key: Buffer): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 12);
}
