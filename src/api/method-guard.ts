/**
 * 405 for a known path asked with a method it does not serve (with `Allow`), instead of the 404
 * of an unknown path. Pure: the app's route list in, the allowed methods out.
 */
import { GatewayError } from "../pipeline/errors.ts";

interface RouteLike {
  method: string;
  path: string;
}

const cache = new WeakMap<object, Array<{ method: string; pattern: RegExp }>>();

function compile(routes: readonly RouteLike[]) {
  let compiled = cache.get(routes);
  if (!compiled) {
    compiled = routes.map((r) => ({
      method: r.method.toUpperCase(),
      pattern: new RegExp(`^${r.path.split("/").map((s) => (s.startsWith(":") ? "[^/]+" : s === "*" ? ".*" : s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("/")}$`),
    }));
    cache.set(routes, compiled);
  }
  return compiled;
}

/** The methods routes serve at `pathname` (empty: no route has this path). */
export function allowedMethods(routes: readonly RouteLike[], pathname: string): string[] {
  const out = new Set<string>();
  // OPTIONS (CORS preflight) is served on every path: it does not make a path known.
  for (const r of compile(routes)) if (r.method !== "ALL" && r.method !== "OPTIONS" && r.pattern.test(pathname)) out.add(r.method);
  if (out.size === 0) return [];
  out.add("OPTIONS");
  return [...out].sort();
}

export function methodNotAllowed(method: string, allow: string[]): GatewayError {
  return new GatewayError({ status: 405, code: "method_not_allowed", message: `${method} is not allowed here (allowed: ${allow.join(", ")})`, headers: { allow: allow.join(", ") } });
}
