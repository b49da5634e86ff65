/**
 * The operator console at /console: one page (Preact, bundled by Bun at first use, see bundle.ts)
 * that drives the public API only — the same routes `curl` uses, with the key the operator typed.
 * /dashboard, the usage page, is the console's Usage page now: its old URL redirects there.
 *
 *   GET /console                          the page (no-cache, strict CSP: self only)
 *   GET /console/assets/<name>-<hash>.*   script and style (immutable)
 *   GET /console/usage                    the usage charts (the former /dashboard page)
 *   GET /dashboard                        → 308 /console/usage
 */
import { Elysia } from "elysia";
import { DASHBOARD_CSP, dashboardPage, sendAsset } from "../api/dashboard.ts";
import { consoleBundle } from "./bundle.ts";

/** Self only: no inline script or style, no outside origin (the same policy as the usage page). */
export const CONSOLE_CSP = DASHBOARD_CSP;

const PAGE_HEADERS = {
  "cache-control": "no-cache",
  "content-security-policy": CONSOLE_CSP,
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};



const notFound = () => Response.json({ error: { message: "No such console asset", type: "invalid_request_error", code: "not_found" } }, { status: 404 });

export function consoleRoutes() {
  return new Elysia({ name: "console-routes", normalize: false })
    .get("/console", async ({ request }) => sendAsset(request, (await consoleBundle()).html, PAGE_HEADERS), { detail: { hide: true } })
    .get(
      "/console/assets/:file",
      async ({ request, params }) => {
        const a = (await consoleBundle()).files.get(params.file);
        return a ? sendAsset(request, a, { "cache-control": "public, max-age=31536000, immutable" }) : notFound();
      },
      { detail: { hide: true } },
    )
    .get("/console/usage", ({ request }) => dashboardPage(request), { detail: { hide: true } })
    .get("/dashboard", () => new Response(null, { status: 308, headers: { location: "/console/usage" } }), { detail: { hide: true } });
}
