/**
 * The newcomer's path, for real: `make run` in a separate process serves the OpenAI SDK from the
 * echo provider; stopping and restarting the process keeps every event.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { statSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import OpenAI from "openai";
import { FileEventLog } from "../../src/events/file-log.ts";
import { readAll, waitFor } from "../helpers/gateway.ts";
import { freePort } from "../helpers/services.ts";

const ROOT = resolve(import.meta.dir, "../..");
let dataDir = "";
const children: ChildProcess[] = [];

async function makeRun(port: number): Promise<{ child: ChildProcess; output: () => string }> {
  // A process group of its own, so the signal reaches make and the gateway it started.
  const child = spawn("make", ["--no-print-directory", "run"], {
    cwd: ROOT,
    detached: true,
    // The embedded defaults, whatever services the test run itself has (KAFKA_BROKERS, REDIS_URL).
    env: { ...process.env, PORT: String(port), TOLLGATE_DATA_DIR: dataDir, OPENAI_API_KEY: "", TOLLGATE_CONFIG: "", TOLLGATE_ADMIN_KEY: "", KAFKA_BROKERS: "", REDIS_URL: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  await waitFor(
    async () => {
      if (!running(child)) throw new Error(`make run exited early:\n${out}`);
      return fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
    },
    60_000,
    "make run to serve /health",
  );
  return { child, output: () => out };
}

const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

async function stop(child: ChildProcess): Promise<void> {
  if (!running(child)) return;
  // make may exit before the gateway it started has drained: wait until every process holding
  // the output pipes (make and bun) has exited.
  const closed = Promise.all([child.stdout!, child.stderr!].map((s) => new Promise((r) => (s.readableEnded ? r(null) : s.once("close", r)))));
  process.kill(-child.pid!, "SIGTERM");
  await closed;
}

afterAll(async () => {
  for (const c of children) {
    if (running(c)) {
      try {
        process.kill(-c.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("make run", () => {
  test("serves the OpenAI SDK (completion and stream); a restart keeps every event", async () => {
    dataDir = await mkdtemp(join(tmpdir(), "tollgate-e2e-"));
    const port = freePort();
    const first = await makeRun(port);
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "first-run", maxRetries: 0 });

    const res = await client.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "ping from the SDK" }] });
    expect(res.choices[0]!.message.content).toBe("ping from the SDK");

    const stream = await client.chat.completions.create({ model: "echo", stream: true, messages: [{ role: "user", content: "stream me, please" }] });
    let text = "";
    let chunks = 0;
    for await (const c of stream) {
      chunks++;
      text += c.choices[0]?.delta.content ?? "";
    }
    expect(text).toBe("stream me, please");
    expect(chunks).toBeGreaterThan(2);

    // No TOLLGATE_ADMIN_KEY: the first run generated one, printed it once, stored it 0600, and
    // the admin API takes that key and nothing else (never keyless, even on loopback).
    const printed = /TOLLGATE_ADMIN_KEY=(tga-[A-Za-z0-9_-]{43})/.exec(first.output())?.[1];
    expect(printed).toBeDefined();
    const keyFile = join(dataDir, "admin.key");
    expect((await readFile(keyFile, "utf8")).trim()).toBe(printed!);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const config = `http://127.0.0.1:${port}/api/v1/admin/config`;
    expect((await fetch(config)).status).toBe(401);
    expect((await fetch(config, { headers: { authorization: "Bearer not-the-admin-key-at-all" } })).status).toBe(401);
    expect((await fetch(config, { headers: { authorization: `Bearer ${printed}` } })).status).toBe(200);

    await stop(first.child); // SIGTERM: drain the emitter, close the log
    expect(first.output()).toContain("listening on");
    expect(first.output()).toContain("[tollgate] stopped");

    // Every request recorded by the first process is on disk.
    const log = await FileEventLog.open({ dir: join(dataDir, "log") });
    const events = await readAll(log, "requests");
    await log.close();
    const completed = events.filter((e) => e.type === "request.completed");
    expect(completed).toHaveLength(2);
    expect(completed.map((e) => e.payload.status)).toEqual(["ok", "ok"]);

    // A second process on the same data dir keeps them and appends after them.
    const second = await makeRun(port);
    const again = await client.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "after restart" }] });
    expect(again.choices[0]!.message.content).toBe("after restart");
    await stop(second.child);
    expect(second.output()).toContain("[tollgate] stopped");
    expect(second.output()).not.toContain(printed!); // printed once: the restart reads the file
    expect((await readFile(keyFile, "utf8")).trim()).toBe(printed!);
    const log2 = await FileEventLog.open({ dir: join(dataDir, "log") });
    const after = await readAll(log2, "requests");
    await log2.close();
    expect(after.slice(0, events.length)).toEqual(events);
    expect(after.filter((e) => e.type === "request.completed")).toHaveLength(3);
  }, 120_000);
});
