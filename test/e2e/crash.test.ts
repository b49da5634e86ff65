/**
 * Answered ⇒ in the log (DESIGN §4), for real: a gateway process under concurrent load is
 * killed with SIGKILL at random moments and restarted each time. Every request a client got a
 * 200 for (a whole JSON body, or a stream through its `[DONE]`) must be in the log exactly once
 * and counted by the usage projection after the restarts. On the file log, and on Kafka with
 * the local write-ahead outbox.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { EventEnvelope } from "../../src/events/envelope.ts";
import { FileEventLog } from "../../src/events/file-log.ts";
import { KafkaEventLog } from "../../src/events/kafka-log.ts";
import { readAll, waitFor } from "../helpers/gateway.ts";
import { freePort, servicesOrFail, uniq } from "../helpers/services.ts";

const ROOT = resolve(import.meta.dir, "../..");
const BUN = process.execPath;
const KILLS = 3;
const CLIENTS = 16;
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function startGateway(env: Record<string, string>, port: number): Promise<ChildProcess> {
  const child = spawn(BUN, ["run", "src/main.ts"], { cwd: ROOT, env: { ...process.env, ...env, PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  await waitFor(
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`gateway exited early:\n${out}`);
      return fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
    },
    30_000,
    "the gateway to serve /health",
  );
  return child;
}

const exited = (c: ChildProcess) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once("exit", () => r())));

/** One client: requests until `stop.value`; records the ids of requests answered in full. */
async function client(port: number, n: number, answered: Set<string>, stop: { value: boolean }): Promise<void> {
  for (let i = 0; !stop.value; i++) {
    const stream = (n + i) % 3 === 0;
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "echo", stream, messages: [{ role: "user", content: `client ${n} request ${i}` }] }),
      });
      const id = res.headers.get("x-request-id");
      const text = await res.text();
      if (res.status !== 200 || !id) continue;
      if (stream ? text.includes("data: [DONE]") : JSON.parse(text).choices?.[0]?.message?.content === `client ${n} request ${i}`) answered.add(id);
    } catch {
      await Bun.sleep(5); // the gateway is down (killed): try again
    }
  }
}

async function crashRun(env: Record<string, string>, readLog: () => Promise<EventEnvelope[]>, dataDir: string): Promise<void> {
  const port = freePort();
  const answered = new Set<string>();
  const stop = { value: false };
  let gateway = await startGateway(env, port);
  const load = Array.from({ length: CLIENTS }, (_, n) => client(port, n, answered, stop));
  const sizes: number[] = [];
  for (let k = 0; k < KILLS; k++) {
    await Bun.sleep(400 + Math.random() * 900);
    gateway.kill("SIGKILL");
    await exited(gateway);
    sizes.push(answered.size);
    gateway = await startGateway(env, port);
  }
  await Bun.sleep(500);
  stop.value = true;
  await Promise.all(load);
  expect(sizes.every((s, i) => s > (sizes[i - 1] ?? 0))).toBe(true); // load ran before every kill

  // The usage projection catches up on the restarted gateway, then a clean stop.
  await waitFor(
    async () => {
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/usage/summary`, { headers: { authorization: `Bearer ${env.TOLLGATE_ADMIN_KEY}` } });
      return r.ok && ((await r.json()) as { data: { requests: number } }).data.requests >= answered.size;
    },
    // On Kafka the restarted instance rejoins its consumer group: the killed members' sessions
    // (10 s) must expire before the partitions are handed out again, after each of the kills.
    60_000,
    "the usage projection to count every answered request",
  ).catch(() => {}); // a shortfall is reported below, request by request
  gateway.kill("SIGTERM");
  await exited(gateway);

  const completed = new Map<string, number>();
  for (const e of await readLog()) if (e.type === "request.completed" && e.requestId) completed.set(e.requestId, (completed.get(e.requestId) ?? 0) + 1);
  const missing = [...answered].filter((id) => !completed.has(id));
  const twice = [...completed].filter(([, n]) => n > 1);
  expect({ answered: answered.size, missing: missing.length, twice: twice.length }).toEqual({ answered: answered.size, missing: 0, twice: 0 });

  const counted = spawnSync(BUN, ["test/helpers/usage-ids.ts", join(dataDir, "analytics")], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
  if (counted.status !== 0) throw new Error(`reading analytics failed: ${counted.stderr}`);
  const usage = JSON.parse(counted.stdout) as Record<string, number>;
  const notCounted = [...answered].filter((id) => usage[id] !== 1);
  expect(notCounted).toEqual([]);
}

const baseEnv = async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "tollgate-crash-"));
  dirs.push(dataDir);
  const env = {
    TOLLGATE_DATA_DIR: dataDir,
    TOLLGATE_ANALYTICS: "on",
    TOLLGATE_PLUGINS_DIR: join(dataDir, "no-plugins"),
    TOLLGATE_CONFIG: "",
    TOLLGATE_ADMIN_KEY: "crash-test-admin-key-0123456789",
    OPENAI_API_KEY: "",
    KAFKA_BROKERS: "",
    REDIS_URL: "",
    CLICKHOUSE_URL: "",
  };
  return { dataDir, env };
};

describe("SIGKILL under load: every answered request is in the log once and counted", () => {
  test("file log", async () => {
    const { dataDir, env } = await baseEnv();
    await crashRun(env, async () => {
      const log = await FileEventLog.open({ dir: join(dataDir, "log") });
      try {
        return await readAll(log, "requests");
      } finally {
        await log.close();
      }
    }, dataDir);
  }, 150_000);

});

const KAFKA_NAME = "SIGKILL under load on Kafka: every answered request is in the log once and counted";
const services = servicesOrFail(["kafka"], KAFKA_NAME);
if (services) describe(KAFKA_NAME, () => {
  const brokers = services.kafkaBrokers!;
  test("Kafka + write-ahead outbox", async () => {
    const { dataDir, env } = await baseEnv();
    const prefix = `crash-${uniq()}.`;
    await crashRun({ ...env, KAFKA_BROKERS: brokers, TOLLGATE_KAFKA_TOPIC_PREFIX: prefix }, async () => {
      const log = await KafkaEventLog.connect({ brokers: brokers.split(","), topicPrefix: prefix });
      try {
        return await readAll(log, "requests");
      } finally {
        await log.close();
      }
    }, dataDir);
  }, 150_000);
});
