/**
 * The usage dashboard: GET /dashboard, a static page that draws the analytics API
 * (/api/v1/usage/*) with Chart.js. Everything it loads comes from the gateway itself — the page,
 * its script and style (src/api/dashboard/), and Chart.js's UMD build from its npm package — so it
 * works air-gapped. The HTML holds no data: the page asks for a key and calls the API with it.
 *
 *   GET /console/usage                      the page (no-cache, strict CSP: self only; /dashboard redirects here)
 *   GET /dashboard/assets/<file>?v=<hash>   dashboard.js, dashboard.css, chart.umd.min.js (immutable)
 *
 * Assets are read once per process, on first use, and kept in memory with a gzip copy.
 */
import { Elysia } from "elysia";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const PAGE_DIR = join(import.meta.dir, "dashboard");
const ASSETS = "/dashboard/assets";

/** Self only: no inline script or style, no outside origin; the API is called on the same origin. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

interface Asset {
  body: Uint8Array;
  gzip: Uint8Array;
  type: string;
  /** Content hash, appended to the URL so the long cache is safe across versions. */
  hash: string;
}

function asset(text: string, type: string): Asset {
  const body = new TextEncoder().encode(text);
  return { body, gzip: Bun.gzipSync(body), type, hash: createHash("sha256").update(body).digest("hex").slice(0, 12) };
}

/** Chart.js's UMD build (defines `window.Chart`), from the installed npm package. */
function chartJsSource(): string {
  // The package exports only its entry points: locate dist/ from the CommonJS one.
  const umd = join(dirname(require.resolve("chart.js")), "chart.umd.min.js");
  // The source map is not served: drop the reference so a browser with devtools open does not ask for it.
  return readFileSync(umd, "utf8").replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n");
}

interface Bundle {
  html: Asset;
  files: Map<string, Asset>;
}

let loaded: Bundle | undefined;

function bundle(): Bundle {
  if (loaded) return loaded;
  const files = new Map<string, Asset>([
    ["chart.umd.min.js", asset(chartJsSource(), "text/javascript; charset=utf-8")],
    ["dashboard.js", asset(readFileSync(join(PAGE_DIR, "dashboard.js"), "utf8"), "text/javascript; charset=utf-8")],
    ["dashboard.css", asset(readFileSync(join(PAGE_DIR, "dashboard.css"), "utf8"), "text/css; charset=utf-8")],
  ]);
  const html = readFileSync(join(PAGE_DIR, "index.html"), "utf8").replace(/\{\{asset:([\w.-]+)\}\}/g, (_, name: string) => {
    const a = files.get(name);
    if (!a) throw new Error(`dashboard: index.html names an unknown asset ${name}`);
    return `${ASSETS}/${name}?v=${a.hash}`;
  });
  loaded = { html: asset(html, "text/html; charset=utf-8"), files };
  return loaded;
}

/** A static asset, gzipped when the client takes it (the dashboard's and the console's). */
export function sendAsset(request: Request, a: Pick<Asset, "body" | "gzip" | "type">, headers: Record<string, string>): Response {
  const gzip = /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "");
  const h: Record<string, string> = { "content-type": a.type, "x-content-type-options": "nosniff", vary: "accept-encoding", ...headers };
  if (gzip) h["content-encoding"] = "gzip";
  return new Response(gzip ? a.gzip : a.body, { headers: h });
}

const notFound = () => Response.json({ error: { message: "No such dashboard asset", type: "invalid_request_error", code: "not_found" } }, { status: 404 });

/** The usage page itself (served by the console at /console/usage; /dashboard redirects there). */
export function dashboardPage(request: Request): Response {
  return sendAsset(request, bundle().html, {
    "cache-control": "no-cache",
    "content-security-policy": DASHBOARD_CSP,
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
  });
}

/** The usage page's assets (the page itself is routed by the console: src/console/routes.ts). */
export function dashboardRoutes() {
  const b = bundle();
  return new Elysia({ name: "dashboard-routes", normalize: false })
    .get(
      `${ASSETS}/:file`,
      ({ request, params, query }) => {
        const a = b.files.get(params.file);
        if (!a) return notFound();
        // Cached for good only under its current hash (an old or missing `v` is revalidated).
        return sendAsset(request, a, { "cache-control": query.v === a.hash ? "public, max-age=31536000, immutable" : "no-cache" });
      },
      { detail: { hide: true } },
    );
}
