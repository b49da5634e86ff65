/**
 * Limits every JSON body must meet, beyond being JSON, so nothing odd reaches a route, a
 * provider or the event log:
 * - valid UTF-8 (`invalid_encoding`): a broken byte is refused, not silently replaced;
 * - no NUL character, raw or escaped as `\u0000` (`invalid_characters`);
 * - nested at most MAX_JSON_DEPTH arrays/objects deep (`json_too_deep`);
 * - every number finite and, when a whole number, within ±(2^53 − 1) (`number_out_of_range`),
 *   since a larger one cannot be read back exactly.
 * All are 400 with a stable code. Pure functions; src/api/http.ts calls them.
 */
import { GatewayError } from "../pipeline/errors.ts";

export const MAX_JSON_DEPTH = 64;

const bad = (code: string, message: string, param: string | null = null) => new GatewayError({ status: 400, code, message, param });
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The body bytes as text; a 400 `invalid_encoding` when they are not UTF-8. */
export function decodeUtf8(bytes: Uint8Array | ArrayBuffer): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw bad("invalid_encoding", "Request body is not valid UTF-8");
  }
}

const nul = () => bad("invalid_characters", "Request body contains a NUL character");

/**
 * Checks on the raw text, before parsing (native searches). Returns whether the text holds an
 * escaped NUL (`\u0000`): then checkJsonValue looks at the parsed strings (the escape may
 * also be a literal backslash followed by `u0000`).
 */
export function checkJsonText(text: string): { escapedNul: boolean } {
  if (text.includes("\u0000")) throw nul();
  return { escapedNul: text.includes("\\u0000") };
}

const pathOf = (path: Array<string | number>) => (path.length ? path.join(".") : null);

/** Checks on the parsed value: depth, numbers and (when asked) NUL in strings. Throws the first problem found. */
export function checkJsonValue(value: unknown, opts: { escapedNul?: boolean } = {}): void {
  const nulInStrings = opts.escapedNul === true;
  const path: Array<string | number> = [];
  const walk = (v: unknown, depth: number): void => {
    if (typeof v === "number") {
      if (!Number.isFinite(v) || (Number.isInteger(v) && !Number.isSafeInteger(v))) {
        throw bad("number_out_of_range", `A number is out of range (whole numbers must be within ±${Number.MAX_SAFE_INTEGER})`, pathOf(path));
      }
      return;
    }
    if (typeof v === "string") {
      if (nulInStrings && v.includes("\u0000")) throw nul();
      return;
    }
    if (v === null || typeof v !== "object") return;
    if (depth >= MAX_JSON_DEPTH) throw bad("json_too_deep", `Request body is nested more than ${MAX_JSON_DEPTH} levels deep`);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        walk(v[i], depth + 1);
        path.pop();
      }
      return;
    }
    for (const key in v as Record<string, unknown>) {
      if (nulInStrings && key.includes("\u0000")) throw nul();
      path.push(key);
      walk((v as Record<string, unknown>)[key], depth + 1);
      path.pop();
    }
  };
  walk(value, 0);
}
