/**
 * The docs cannot drift: every fenced shell block tagged `runnable` in README.md and docs/*.md
 * runs, in order, against a fresh gateway started for its page (a real process, on a free port,
 * with an admin key and a master key, the repo's plugins/ loaded), as `bash -eo pipefail` with
 * `$TOLLGATE_URL` and `$TOLLGATE_ADMIN_KEY` set. `curl` fails on any HTTP error status.
 * Convention and how to tag: docs/contributing-docs.md.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { docPages, fencedBlocks, isShell, runnableSnippets, type Snippet } from "./snippets.ts";

const REPO = resolve(import.meta.dir, "../..");
const ADMIN_KEY = "docs-snippets-admin-key-0123456789";
const MASTER_KEY = "docs-snippets-master-key-0123456789";

async function freePort(): Promise<number> {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

/** A gateway process on its embedded defaults (no Kafka, Redis or ClickHouse from the caller's env). */
async function startGateway(): Promise<{ url: string; stop: () => Promise<string> }> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "tollgate-docs-"));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? dataDir,
    PORT: String(port),
    HOST: "127.0.0.1",
    TOLLGATE_DATA_DIR: dataDir,
    TOLLGATE_ADMIN_KEY: ADMIN_KEY,
    TOLLGATE_MASTER_KEY: MASTER_KEY,
    TOLLGATE_PLUGINS_DIR: join(REPO, "plugins"),
    LOG_LEVEL: "warn",
  };
  const proc = Bun.spawn([process.execPath, "run", "src/main.ts"], { cwd: REPO, env, stdout: "pipe", stderr: "pipe" });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    // Ready, with the embedded analytics store open (the usage API answers 503 while it starts).
    const ready = await fetch(`${url}/ready`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } }).then(
      async (r) => r.ok && ((await r.json()) as { checks?: { analytics?: { state?: string } } }).checks?.analytics?.state === "ready",
      () => false,
    );
    if (ready) break;
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill();
      throw new Error(`the gateway did not become ready: ${await new Response(proc.stderr).text()}`);
    }
    await Bun.sleep(100);
  }
  return {
    url,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
      rmSync(dataDir, { recursive: true, force: true });
      return new Response(proc.stderr).text();
    },
  };
}

/** One bash session per page: each snippet announces itself, so a failure names its line. */
function script(snippets: Snippet[]): string {
  const parts = ["set -eo pipefail", 'curl() { command curl --fail-with-body --silent --show-error "$@"; }'];
  for (const s of snippets) parts.push(`echo "@@snippet ${s.line}" >&2`, s.body, "echo");
  return parts.join("\n");
}

const pages = docPages(REPO).map((file) => ({ file, snippets: runnableSnippets(REPO, file) }));

describe("doc snippets", () => {
  test("the runnable tag is in use (README's Try it included) and runnable snippets follow the convention", () => {
    const total = pages.reduce((n, p) => n + p.snippets.length, 0);
    expect(total).toBeGreaterThanOrEqual(15);
    expect(pages.find((p) => p.file === "README.md")!.snippets.length).toBeGreaterThanOrEqual(4);
    for (const p of pages) {
      for (const s of p.snippets) {
        // The gateway's address and key come from the environment, never a literal host or placeholder.
        const literal = s.body.split("\n").some((l) => /\bcurl\b.*\s['"]?(https?:\/\/)?(localhost|127\.0\.0\.1)[:/]/.test(l));
        expect({ where: `${s.file}:${s.line}`, literal }).toEqual({ where: `${s.file}:${s.line}`, literal: false });
        expect({ where: `${s.file}:${s.line}`, placeholder: /tg-…|…/.test(s.body.replace(/#.*$/gm, "")) }).toEqual({ where: `${s.file}:${s.line}`, placeholder: false });
      }
      // Every shell block on every page: no private variable names for the admin key.
      for (const b of fencedBlocks(readFileSync(join(REPO, p.file), "utf8")).filter((b) => isShell(b.lang))) {
        expect({ where: `${p.file}:${b.line}`, adminVar: /\$\{?ADMIN\b/.test(b.body) }).toEqual({ where: `${p.file}:${b.line}`, adminVar: false });
      }
    }
  });

  for (const { file, snippets } of pages.filter((p) => p.snippets.length > 0)) {
    test(`${file}: ${snippets.length} runnable snippet(s) run against a fresh gateway`, async () => {
      const gw = await startGateway();
      let out = "";
      let code = -1;
      try {
        const proc = Bun.spawn(["bash", "-c", script(snippets)], {
          cwd: REPO,
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", TOLLGATE_URL: gw.url, TOLLGATE_ADMIN_KEY: ADMIN_KEY },
          stdout: "pipe",
          stderr: "pipe",
        });
        const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
        code = await proc.exited;
        out = `${stdout}\n${stderr}`;
        if (code !== 0) {
          const last = [...stderr.matchAll(/@@snippet (\d+)/g)].at(-1)?.[1];
          throw new Error(`${file}:${last ?? "?"}: the snippet failed (exit ${code}):\n${out.slice(-3000)}`);
        }
      } finally {
        await gw.stop();
      }
      expect(code).toBe(0);
    }, 120_000);
  }
});
