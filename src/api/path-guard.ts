/**
 * Checks the raw request path before any route runs: every segment must be valid percent-encoding
 * (UTF-8), at most MAX_ID_LENGTH characters once decoded, and free of control characters (NUL…).
 * Anything else is a 400 `invalid_path`, so no route ever sees a half-decoded or huge parameter.
 */
import { GatewayError } from "../pipeline/errors.ts";
import { MAX_ID_LENGTH } from "./schemas.ts";

/** Longest raw path (before decoding) we look at at all. */
export const MAX_PATH_LENGTH = 4096;

const invalid = (message: string) => new GatewayError({ status: 400, code: "invalid_path", message });

/** The problem with a request URL's path, or undefined when it is fine. */
export function checkPath(url: string): GatewayError | undefined {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return undefined;
  let end = url.indexOf("?", start);
  if (end < 0) end = url.length;
  const hash = url.indexOf("#", start);
  if (hash >= 0 && hash < end) end = hash;
  if (end - start > MAX_PATH_LENGTH) return invalid(`The path is longer than ${MAX_PATH_LENGTH} characters`);
  const path = url.slice(start, end);
  if (!path.includes("%") && path.length <= MAX_ID_LENGTH) return undefined; // the common case, cheap
  for (const segment of path.split("/")) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return invalid("A path segment is not valid percent-encoding (UTF-8)");
    }
    if (decoded.length > MAX_ID_LENGTH) return invalid(`A path segment is longer than ${MAX_ID_LENGTH} characters`);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
    if (/[\u0000-\u001f\u007f]/.test(decoded)) return invalid("A path segment contains a control character");
  }
  return undefined;
}

/**
 * The problem with a request URL's query string, or undefined: every name and value must be
 * valid percent-encoding and free of NUL, and no name may repeat (no route takes a list, and a
 * repeated value would be read as either one). 400 `invalid_query`, with the name as `param`.
 */
export function checkQuery(url: string): GatewayError | undefined {
  const q = url.indexOf("?");
  if (q < 0 || q === url.length - 1) return undefined;
  let end = url.indexOf("#", q);
  if (end < 0) end = url.length;
  const seen = new Set<string>();
  for (const pair of url.slice(q + 1, end).split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, " "));
      value = eq < 0 ? "" : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, " "));
    } catch {
      return new GatewayError({ status: 400, code: "invalid_query", message: "The query string is not valid percent-encoding (UTF-8)" });
    }
    if (name.includes("\u0000") || value.includes("\u0000")) return new GatewayError({ status: 400, code: "invalid_query", message: "The query string contains a NUL character" });
    if (seen.has(name)) return new GatewayError({ status: 400, code: "invalid_query", message: `Query parameter \`${name}\` is given more than once`, param: name });
    seen.add(name);
  }
  return undefined;
}
