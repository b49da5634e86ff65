/**
 * The console's browser code is type-checked with DOM types (src/console/ui/tsconfig.json), apart
 * from the server's tsconfig; Bun's bundler strips types without checking them, so this is the
 * check that the pages agree with the component library.
 */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

test("src/console/ui type-checks (tsc --noEmit -p src/console/ui)", () => {
  const root = resolve(import.meta.dir, "../..");
  const tsc = resolve(root, "node_modules/typescript/bin/tsc");
  const r = spawnSync(process.execPath, [tsc, "--noEmit", "-p", "src/console/ui"], { cwd: root, encoding: "utf8" });
  expect(`${r.stdout}${r.stderr}`.trim()).toBe("");
  expect(r.status).toBe(0);
}, 120_000);
