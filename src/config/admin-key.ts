/**
 * The admin key is never absent. When TOLLGATE_ADMIN_KEY is unset, the gateway uses the key
 * stored in `<data dir>/admin.key`, generating it (256 random bits, file mode 0600, created
 * exclusively so two starts never disagree) on the first run; the caller prints it once.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const ADMIN_KEY_FILE = "admin.key";

export interface ResolvedAdminKey {
  key: string;
  /** Where it came from: the environment, the key file, or generated now (print it). */
  source: "env" | "file" | "generated";
  /** The key file (absent when the key came from the environment). */
  file?: string;
}

/** The admin key: TOLLGATE_ADMIN_KEY, else the data dir's key file, else a new one stored there. */
export function resolveAdminKey(envKey: string | undefined, dataDir: string): ResolvedAdminKey {
  if (envKey) return { key: envKey, source: "env" };
  const file = join(dataDir, ADMIN_KEY_FILE);
  const existing = readKeyFile(file);
  if (existing) return { key: existing, source: "file", file };
  mkdirSync(dataDir, { recursive: true });
  const key = `tga-${randomBytes(32).toString("base64url")}`;
  try {
    writeFileSync(file, `${key}\n`, { mode: 0o600, flag: "wx" });
  } catch (err) {
    // Another process created it between our read and write: use theirs.
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      const theirs = readKeyFile(file);
      if (theirs) return { key: theirs, source: "file", file };
    }
    throw err;
  }
  chmodSync(file, 0o600); // the umask cannot widen it, but be explicit
  return { key, source: "generated", file };
}

function readKeyFile(file: string): string | undefined {
  try {
    if (!statSync(file).isFile()) return undefined;
  } catch {
    return undefined;
  }
  const key = readFileSync(file, "utf8").trim();
  if (key.length < 16) throw new AdminKeyError(`${file} holds no usable admin key (at least 16 characters): delete it to generate a new one`);
  return key;
}

export class AdminKeyError extends Error {
  override name = "AdminKeyError";
}
