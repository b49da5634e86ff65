/**
 * API conformance fuzzing: Schemathesis drives every operation of a live gateway from the
 * gateway's own OpenAPI document (/swagger/json) and checks the answers against it.
 *
 *   bun scripts/fuzz-api.ts                      # a new gateway, the CI seed and budget
 *   bun scripts/fuzz-api.ts --seed random        # a random seed (printed, to replay a failure)
 *   bun scripts/fuzz-api.ts --seed 42 --max-examples 200 --url http://127.0.0.1:8080 \
 *       --admin-key … --virtual-key tg-…         # against a running gateway
 *
 * Schemathesis comes from scripts/schemathesis.sh (a virtualenv under .services/), or
 * SCHEMATHESIS_BIN. Reports (JUnit, and a VCR cassette of every request with the failing ones
 * marked) go to .test-artifacts/schemathesis/<run>/; the test test/api/conformance.test.ts uses
 * the same `fuzz` function.
 */
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "..");
/** The seed `make test` uses: runs are reproducible in CI. */
export const CI_SEED = 20261203;
/** Checks run on every answer. */
export const CHECKS = [
  "not_a_server_error",
  "status_code_conformance",
  "content_type_conformance",
  "response_schema_conformance",
  "response_headers_conformance",
  "negative_data_rejection",
  "missing_required_header",
  "ignored_auth",
  "unsupported_method",
] as const;

export interface FuzzOptions {
  /** Base URL of the gateway (its spec is `${url}/swagger/json`), or a spec file with `specFile`. */
  url: string;
  /** Read the spec from this file instead of the gateway's /swagger/json. */
  specFile?: string;
  adminKey: string;
  virtualKey: string;
  seed: number;
  maxExamples: number;
  /** Where reports go (created). */
  reportDir: string;
  workers?: number;
  phases?: string;
  /** Extra `st run` arguments (e.g. `--include-path`). */
  extra?: string[];
}

export interface FuzzResult {
  code: number;
  output: string;
  reportDir: string;
}

/** The `st` binary: SCHEMATHESIS_BIN, or the one scripts/schemathesis.sh installed; undefined if neither. */
export function schemathesisBin(): string | undefined {
  const fromEnv = process.env.SCHEMATHESIS_BIN;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  const r = Bun.spawnSync(["bash", join(ROOT, "scripts/schemathesis.sh"), "path"], { stderr: "ignore" });
  const line = r.stdout.toString().trim();
  const bin = line.startsWith("SCHEMATHESIS_BIN=") ? line.slice("SCHEMATHESIS_BIN=".length) : "";
  return bin && existsSync(bin) ? bin : undefined;
}

/** Run Schemathesis once; resolves with its exit code and output (0 = no failure). */
export async function fuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const bin = schemathesisBin();
  if (!bin) throw new Error("schemathesis is not installed: run `bash scripts/schemathesis.sh install`");
  await rm(opts.reportDir, { recursive: true, force: true }); // the reports of this run only
  await mkdir(opts.reportDir, { recursive: true });
  // Credentials per security scheme of the spec (src/api/openapi.ts): admin routes get the admin
  // key, model routes the virtual key. Values come from the environment, not the file.
  const config = join(opts.reportDir, "schemathesis.toml");
  const spec = opts.specFile ? await Bun.file(opts.specFile).json() : await (await fetch(`${opts.url}/swagger/json`)).json();
  await writeFile(
    config,
    [
      `[auth.openapi.adminKey]`,
      `bearer = "\${TOLLGATE_FUZZ_ADMIN_KEY}"`,
      `[auth.openapi.serviceKey]`,
      `api_key = "\${TOLLGATE_FUZZ_ADMIN_KEY}"`,
      `[auth.openapi.virtualKey]`,
      `bearer = "\${TOLLGATE_FUZZ_VIRTUAL_KEY}"`,
      ...documented5xx(spec),
      "",
    ].join("\n"),
  );
  const location = opts.specFile ?? `${opts.url}/swagger/json`;
  const args = [
    bin, "--config-file", config, "run", location,
    "--url", opts.url,
    "--checks", CHECKS.join(","),
    "--seed", String(opts.seed),
    "--max-examples", String(opts.maxExamples),
    // One worker: with several, CPython 3.11 can fail parsing in two threads at once inside
    // Hypothesis ("AST constructor recursion depth mismatch"), a runtime error, not a finding.
    "--workers", String(opts.workers ?? 1),
    "--phases", opts.phases ?? "examples,coverage,fuzzing,stateful",
    "--request-timeout", "20",
    "--suppress-health-check", "all",
    "--no-color",
    "--report", "junit,vcr",
    "--report-dir", opts.reportDir,
    "--output-truncate", "true",
    ...(opts.extra ?? []),
  ];
  const proc = Bun.spawn(args, {
    cwd: opts.reportDir,
    env: { ...process.env, TOLLGATE_FUZZ_ADMIN_KEY: opts.adminKey, TOLLGATE_FUZZ_VIRTUAL_KEY: opts.virtualKey, NO_COLOR: "1", SCHEMATHESIS_TELEMETRY: "false", PYTHONHASHSEED: "0" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const output = out + err;
  await writeFile(join(opts.reportDir, "output.txt"), output);
  return { code, output, reportDir: opts.reportDir };
}

/**
 * A 5xx fails the run unless the operation documents it as by design (503 while analytics is
 * off or the gateway not ready, 502/504 from an upstream): one config entry per such operation.
 */
export function documented5xx(spec: { paths?: Record<string, Record<string, { responses?: Record<string, unknown> }>> }): string[] {
  const lines: string[] = [];
  for (const [path, ops] of Object.entries(spec.paths ?? {})) {
    for (const [method, op] of Object.entries(ops)) {
      const statuses = Object.keys(op?.responses ?? {}).filter((s) => /^5\d\d$/.test(s));
      if (statuses.length === 0) continue;
      lines.push("[[operations]]", `include-path = ${JSON.stringify(path)}`, `include-method = ${JSON.stringify(method.toUpperCase())}`,
        `checks.not_a_server_error.expected-statuses = ${JSON.stringify(["2xx", "3xx", "4xx", ...statuses])}`);
    }
  }
  return lines;
}

/** A tenant and a virtual key on a gateway, through its admin API. */
export async function createVirtualKey(url: string, adminKey: string): Promise<string> {
  const headers = { authorization: `Bearer ${adminKey}`, "content-type": "application/json" };
  const tenant = await fetch(`${url}/api/v1/admin/tenants`, { method: "POST", headers, body: JSON.stringify({ id: "fuzz", name: "Fuzz" }) });
  if (tenant.status !== 201 && tenant.status !== 409) throw new Error(`creating the fuzz tenant: ${tenant.status} ${await tenant.text()}`);
  const key = await fetch(`${url}/api/v1/admin/keys`, { method: "POST", headers, body: JSON.stringify({ tenant_id: "fuzz", name: `fuzz-${Date.now()}` }) });
  const body = (await key.json()) as { key?: string };
  if (key.status !== 201 || !body.key) throw new Error(`creating the fuzz key: ${key.status} ${JSON.stringify(body)}`);
  return body.key;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (import.meta.main) {
  const seedArg = arg("seed") ?? String(CI_SEED);
  const seed = seedArg === "random" ? Math.floor(Math.random() * 2 ** 31) : Number(seedArg);
  const maxExamples = Number(arg("max-examples") ?? "25");
  const reportDir = join(ROOT, ".test-artifacts/schemathesis", `manual-${new Date().toISOString().replace(/[:.]/g, "-")}-seed-${seed}`);
  let url = arg("url");
  let adminKey = arg("admin-key") ?? "";
  let virtualKey = arg("virtual-key") ?? "";
  let dispose = async () => {};
  if (!url) {
    const { startTestGateway } = await import("../test/helpers/gateway.ts");
    adminKey = `fuzz-admin-${crypto.randomUUID()}`;
    const gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: adminKey });
    url = gw.url;
    virtualKey = await createVirtualKey(url, adminKey);
    dispose = () => gw.dispose();
  }
  console.error(`[fuzz-api] seed ${seed}, ${maxExamples} examples per operation, against ${url}; reports in ${reportDir}`);
  const result = await fuzz({ url, adminKey, virtualKey, seed, maxExamples, reportDir });
  console.log(result.output);
  await dispose();
  console.error(`[fuzz-api] ${result.code === 0 ? "passed" : "FAILED"} (seed ${seed}); reports in ${reportDir}`);
  process.exit(result.code);
}
