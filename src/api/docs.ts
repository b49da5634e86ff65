/**
 * API documentation: Swagger/OpenAPI JSON at /swagger/json and the Scalar UI at /swagger,
 * with the UI bundle served from the npm package so it renders with no internet access.
 */
import { swagger } from "@elysiajs/swagger";
import { Elysia } from "elysia";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const BUNDLE_ROUTE = "/swagger/assets/api-reference.js";

function scalarBundlePath(): string {
  const pkg = require.resolve("@scalar/api-reference/package.json");
  return join(dirname(pkg), "dist/browser/standalone.js");
}

export function docsRoutes(version: string) {
  const bundle = scalarBundlePath();
  return new Elysia({ name: "docs-routes", normalize: false })
    .get(BUNDLE_ROUTE, () => new Response(Bun.file(bundle), { headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=86400" } }), {
      detail: { hide: true },
    })
    .use(
      swagger({
        path: "/swagger",
        scalarCDN: BUNDLE_ROUTE,
        scalarConfig: { withDefaultFonts: false, hideDownloadButton: false } as Record<string, unknown>,
        exclude: [BUNDLE_ROUTE],
        documentation: {
          info: {
            title: "Tollgate",
            version,
            description: "An event-sourced LLM gateway: one OpenAI-compatible endpoint in front of every model provider.",
          },
          tags: [
            { name: "OpenAI-compatible", description: "Drop-in OpenAI API" },
            { name: "Simple API", description: "Prompt in, text and cost out" },
            { name: "Operations", description: "Health and readiness" },
          ],
        },
      }),
    );
}
