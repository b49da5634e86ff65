/**
 * Two gateway processes on one Kafka, each with its own embedded analytics store (chDB): each
 * projects the whole requests stream (a consumer group of its own), so both answer the usage API
 * with every request, wherever it was served. (Sharing one group would split the partitions and
 * leave each store with a part.)
 */
import { afterAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, servicesOrFail, uniq } from "../helpers/services.ts";
import { post, waitFor } from "../helpers/gateway.ts";

const NAME = "analytics on Kafka with embedded stores";
const services = servicesOrFail(["kafka", "redis"], NAME);
const ADMIN = "dist-analytics-admin-key-0123456789";

if (services) {
  const id = uniq();
  const procs: ChildProcess[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    for (const p of procs) {
      p.kill("SIGTERM");
      if (p.exitCode === null) await new Promise((r) => p.once("exit", r));
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const start = async () => {
    const port = freePort();
    const dir = mkdtempSync(join(tmpdir(), "tollgate-dist-analytics-"));
    dirs.push(dir);
    const child = spawn(process.execPath, ["run", "src/main.ts"], {
      cwd: resolve(import.meta.dir, "../.."),
      env: {
        ...process.env,
        PORT: String(port),
        TOLLGATE_DATA_DIR: dir,
        TOLLGATE_PLUGINS_DIR: join(dir, "none"),
        TOLLGATE_ADMIN_KEY: ADMIN,
        KAFKA_BROKERS: services.kafkaBrokers!,
        REDIS_URL: services.redisUrl!,
        TOLLGATE_KAFKA_TOPIC_PREFIX: `a${id}.`,
        TOLLGATE_REDIS_PREFIX: `a${id}:`,
        TOLLGATE_ANALYTICS: "on",
        CLICKHOUSE_URL: "",
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    procs.push(child);
    const url = `http://127.0.0.1:${port}`;
    await waitFor(() => fetch(`${url}/health`).then((r) => r.ok, () => false), 30_000, "gateway up");
    return url;
  };
  const summary = async (url: string) =>
    ((await (await fetch(`${url}/api/v1/usage/summary?days=1`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { data?: { requests: number } }).data?.requests;

  describe(NAME, () => {
    test("each instance's usage API counts the requests served by both", async () => {
      const [a, b] = [await start(), await start()];
      const ready = async (url: string) => ((await (await fetch(`${url}/ready`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { checks: { analytics: { group: string; state: string } } }).checks.analytics;
      await waitFor(async () => (await ready(a)).state === "ready" && (await ready(b)).state === "ready", 30_000, "analytics ready");
      const [ga, gb] = [(await ready(a)).group, (await ready(b)).group];
      expect(ga).toMatch(/^usage-projection\.local-/);
      expect(gb).toMatch(/^usage-projection\.local-/);
      expect(ga).not.toBe(gb);
      // 12 requests through a, 8 through b, over several tenants' partitions (default tenant: loopback, no keys).
      for (let i = 0; i < 20; i++) {
        const r = await post(`${i < 12 ? a : b}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content: `m${i}` }] });
        expect(r.status).toBe(200);
      }
      await waitFor(async () => (await summary(a)) === 20 && (await summary(b)) === 20, 45_000, "both stores to hold all 20 requests");
      expect(await summary(a)).toBe(20);
      expect(await summary(b)).toBe(20);
    }, 120_000);
  });
}
