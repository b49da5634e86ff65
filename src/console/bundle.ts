/**
 * The console's browser bundle: `ui/main.tsx` (Preact) and `ui/console.css`, built by Bun's own
 * bundler once per process on first use and kept in memory with a gzip copy. Every asset is named
 * by its content hash, so it can be cached for good; nothing is fetched from outside the gateway.
 *
 * @example
 * const b = await consoleBundle();
 * b.html.body;                 // the page, naming /console/assets/main-<hash>.js
 * b.files.get("main-<hash>.js");
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const CONSOLE_ASSETS = "/console/assets";
const UI_DIR = join(import.meta.dir, "ui");

export interface ConsoleAsset {
  body: Uint8Array<ArrayBuffer>;
  gzip: Uint8Array<ArrayBuffer>;
  type: string;
}

export interface ConsoleBundle {
  html: ConsoleAsset;
  /** file name (content-hashed) → asset */
  files: Map<string, ConsoleAsset>;
}

const asset = (body: Uint8Array<ArrayBuffer>, type: string): ConsoleAsset => ({ body, gzip: Bun.gzipSync(body), type });
const hashOf = (body: Uint8Array) => createHash("sha256").update(body).digest("hex").slice(0, 12);

let building: Promise<ConsoleBundle> | undefined;

/** Builds the bundle once (later calls share the same promise). */
export function consoleBundle(): Promise<ConsoleBundle> {
  building ??= build().catch((err) => {
    building = undefined; // a failed build is retried by the next request
    throw err;
  });
  return building;
}

async function build(): Promise<ConsoleBundle> {
  const out = await Bun.build({
    entrypoints: [join(UI_DIR, "main.tsx")],
    target: "browser",
    minify: true,
    format: "esm",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  if (!out.success) throw new Error(`console bundle failed: ${out.logs.map((l) => l.message).join("; ")}`);
  const files = new Map<string, ConsoleAsset>();
  const js = new Uint8Array(await out.outputs[0]!.arrayBuffer());
  const jsName = `main-${hashOf(js)}.js`;
  files.set(jsName, asset(js, "text/javascript; charset=utf-8"));
  const css = new TextEncoder().encode(readFileSync(join(UI_DIR, "console.css"), "utf8"));
  const cssName = `console-${hashOf(css)}.css`;
  files.set(cssName, asset(css, "text/css; charset=utf-8"));
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Tollgate console</title>
<link rel="stylesheet" href="${CONSOLE_ASSETS}/${cssName}">
<script type="module" src="${CONSOLE_ASSETS}/${jsName}"></script>
</head>
<body><div id="app"><p class="boot">Loading the Tollgate console…</p></div></body>
</html>
`;
  return { html: asset(new TextEncoder().encode(html), "text/html; charset=utf-8"), files };
}
