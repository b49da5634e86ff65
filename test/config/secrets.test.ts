import { describe, expect, test } from "bun:test";
import { decryptSecret, deriveKey, encryptSecret, maskKey, SecretError } from "../../src/config/secrets.ts";

describe("secrets", () => {
  const key = deriveKey("a master passphrase for tests");
  test("round trip; ciphertext differs each time and does not contain the key", () => {
    const a = encryptSecret("sk-live-1234567890abcd", key);
    const b = encryptSecret("sk-live-1234567890abcd", key);
    expect(a).not.toBe(b);
    expect(a).not.toContain("1234567890");
    expect(decryptSecret(a, key)).toBe("sk-live-1234567890abcd");
  });
  test("a wrong master key or tampered data fails clearly", () => {
    const sealed = encryptSecret("secret", key);
    expect(() => decryptSecret(sealed, deriveKey("another passphrase, also long"))).toThrow(SecretError);
    const parts = sealed.split(":");
    parts[3] = Buffer.from("tampered").toString("base64url");
    expect(() => decryptSecret(parts.join(":"), key)).toThrow(SecretError);
  });
  test("hex and base64 master keys are used as is; short passphrases are refused", () => {
    expect(deriveKey("ab".repeat(32))).toEqual(Buffer.from("ab".repeat(32), "hex"));
    const raw = Buffer.alloc(32, 7);
    expect(deriveKey(raw.toString("base64"))).toEqual(raw);
    expect(() => deriveKey("short")).toThrow(SecretError);
  });
  test("maskKey", () => {
    expect(maskKey("sk-proj-abcdefghijklmnop")).toBe("sk-…mnop");
    expect(maskKey("abcdefghijklmnop")).toBe("…mnop");
    expect(maskKey("short")).toBe("…");
  });
});
