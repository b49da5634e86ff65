/**
 * Checks every request meets before any route runs (pure decisions; src/app.ts calls them):
 * - `Host` on a loopback bind must be one of the bound names (DNS rebinding: a page on
 *   `evil.example` whose name now resolves to 127.0.0.1 sends `Host: evil.example`) → 421
 *   `host_not_allowed`;
 * - a body must be JSON: any other declared type (form, multipart, text/plain — what a
 *   cross-site page can send without a preflight) → 415 `unsupported_media_type`.
 */
import { GatewayError } from "../pipeline/errors.ts";

/** The `Host` names a loopback-bound gateway answers to (lower case, without port). */
export function loopbackHostNames(boundHost: string, extra: readonly string[] = []): Set<string> {
  const names = ["localhost", "127.0.0.1", "::1", boundHost, ...extra].map(bareHost);
  return new Set(names);
}

/** `Host` header value → the name alone: `[::1]:8200` → `::1`, `Localhost:80` → `localhost`. */
export function bareHost(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(1, h.indexOf("]") > 0 ? h.indexOf("]") : undefined);
  const colons = h.split(":").length - 1;
  if (colons === 1) return h.slice(0, h.indexOf(":")); // name:port
  return h; // a name, or a bare IPv6 address
}

/** A 421 when `host` (the request's Host header, or its URL's host) is not an allowed name. */
export function checkHost(host: string | null, allowed: ReadonlySet<string> | undefined): GatewayError | undefined {
  if (!allowed) return undefined;
  if (host !== null && allowed.has(bareHost(host))) return undefined;
  return new GatewayError({ status: 421, code: "host_not_allowed", message: "This gateway does not answer to that Host name (set TOLLGATE_ALLOWED_HOSTS to add one)" });
}

/** Whether a content type is JSON (`application/json`, `application/*+json`, any parameters). */
export function isJsonType(contentType: string): boolean {
  const essence = contentType.split(";")[0]!.trim().toLowerCase();
  return essence === "application/json" || (essence.startsWith("application/") && essence.endsWith("+json"));
}

export const unsupportedMediaType = (given: string | null) =>
  new GatewayError({
    status: 415,
    code: "unsupported_media_type",
    message: given ? "Request bodies must be JSON: send `content-type: application/json`" : "A request body needs `content-type: application/json`",
  });
