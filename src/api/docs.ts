/**
 * API documentation: Swagger/OpenAPI JSON at /swagger/json and the Scalar UI at /swagger,
 * with the UI bundle served from the npm package so it renders with no internet access.
 */
import { swagger } from "@elysiajs/swagger";
import { Elysia } from "elysia";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { finishSpec } from "./openapi.ts";

const require = createRequire(import.meta.url);
const BUNDLE_ROUTE = "/swagger/assets/api-reference.js";
/** The plugin's own document; /swagger/json serves it finished by finishSpec (src/api/openapi.ts). */
const RAW_SPEC_ROUTE = "/swagger/raw-json";

function scalarBundlePath(): string {
  const pkg = require.resolve("@scalar/api-reference/package.json");
  return join(dirname(pkg), "dist/browser/standalone.js");
}

export function docsRoutes(version: string) {
  const bundle = scalarBundlePath();
  const plugin = swagger({
    path: "/swagger",
    specPath: RAW_SPEC_ROUTE,
    scalarCDN: BUNDLE_ROUTE,
    scalarConfig: { withDefaultFonts: false, hideDownloadButton: false, spec: { url: "/swagger/json" } } as Record<string, unknown>,
    exclude: [BUNDLE_ROUTE, RAW_SPEC_ROUTE, "/swagger/json"],
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
  });
  let finished: { routes: number; doc: Record<string, unknown> } | undefined;
  return new Elysia({ name: "docs-routes", normalize: false })
    .get("/swagger/json", async () => {
      // The routes are fixed once the app is built: finish the document once per route count.
      const raw = (await (await plugin.handle(new Request(`http://localhost${RAW_SPEC_ROUTE}`))).json()) as Record<string, unknown>;
      const routes = Object.keys((raw.paths as object | undefined) ?? {}).length;
      if (!finished || finished.routes !== routes) finished = { routes, doc: finishSpec(raw) };
      return Response.json(finished.doc);
    }, { detail: { hide: true } })
    .get(BUNDLE_ROUTE, () => new Response(Bun.file(bundle), { headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=86400" } }), {
      detail: { hide: true },
    })
    .use(plugin);
}
