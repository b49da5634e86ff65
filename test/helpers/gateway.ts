/** Start an in-process gateway on a free port with its own temp data dir. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSettings, type Settings } from "../../src/config/env.ts";
import type { EventEnvelope, StreamName } from "../../src/events/envelope.ts";
import { readBatches } from "../../src/events/event-log.ts";
import { FileEventLog } from "../../src/events/file-log.ts";
import { type Gateway, startGateway, type StartOptions } from "../../src/main.ts";

/** The admin key test gateways get unless a test passes its own TOLLGATE_ADMIN_KEY. */
export const TEST_ADMIN_KEY = "test-admin-key-0123456789abcdef";

export interface TestGateway extends Gateway {
  dataDir: string;
  /** `Authorization: Bearer <admin key>` plus a JSON content type, for admin calls. */
  adminHeaders: Record<string, string>;
  /** Flush the emitter and return every event of a stream (all partitions). */
  events(stream?: StreamName): Promise<EventEnvelope[]>;
  /** Stop and delete the data dir. */
  dispose(): Promise<void>;
}

export async function startTestGateway(
  env: Record<string, string> = {},
  opts: StartOptions & { dataDir?: string } = {},
): Promise<TestGateway> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), "tollgate-test-")));
  // Analytics is off unless a test turns it on: chDB holds one data directory per process, and most
  // tests start several gateways (each with its own data dir).
  const settings: Settings = loadSettings({ PORT: "0", TOLLGATE_DATA_DIR: dataDir, TOLLGATE_PLUGINS_DIR: join(dataDir, "no-plugins"), TOLLGATE_ANALYTICS: opts.analytics ? "on" : "off", TOLLGATE_ADMIN_KEY: TEST_ADMIN_KEY, ...env });
  const gw = await startGateway(settings, { quiet: true, ...opts });
  // Inherit from the gateway (not a spread copy) so live getters such as `snapshot` stay live.
  const extra = {
    dataDir,
    adminHeaders: adminHeaders(gw.adminKey),
    async events(stream: StreamName = "requests") {
      await gw.emitter.flush();
      return readAll(gw.log as FileEventLog, stream);
    },
    async dispose() {
      await gw.stop();
      if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return Object.assign(Object.create(gw) as Gateway, extra);
}

export async function readAll(log: Pick<FileEventLog, "partitions" | "read">, stream: StreamName): Promise<EventEnvelope[]> {
  const out: EventEnvelope[] = [];
  for (let p = 0; p < log.partitions(stream); p++) {
    for await (const batch of readBatches(log, stream, p)) out.push(...batch.map((r) => r.event));
  }
  return out;
}

/** Poll `fn` until it returns a truthy value (or fail after `ms`). */
export async function waitFor<T>(fn: () => T | Promise<T>, ms = 5000, what = "condition"): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/** Write a bootstrap file (YAML lines) in a temp dir and return its path, for `TOLLGATE_CONFIG`. */
export async function writeConfigFile(lines: string[]): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), "tollgate-cfg-")), "tollgate.yaml");
  await writeFile(file, lines.join("\n"));
  return file;
}

/** Headers for an admin call with `key` (default: the test gateways' key). */
export const adminHeaders = (key: string = TEST_ADMIN_KEY): Record<string, string> => ({ authorization: `Bearer ${key}`, "content-type": "application/json" });

export const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
