/**
 * Graceful shutdown: stop() lets an in-flight stream finish (its events all in the log), refuses
 * new connections, and cuts what is left when the drain timeout passes.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { drainServer, Lifecycle } from "../../src/lifecycle/drain.ts";
import { startTestGateway, type TestGateway, writeConfigFile } from "../helpers/gateway.ts";
import { readAll } from "../helpers/gateway.ts";
import type { FileEventLog } from "../../src/events/file-log.ts";

const ADMIN = "drain-admin-key-0123456789";

/** A gateway with an echo provider that streams one word every `delay` ms. */
async function slowGateway(delay: number): Promise<TestGateway> {
  const config = await writeConfigFile(["providers:", "  - id: slow", "    kind: echo", `    chunk_delay_ms: ${delay}`, "    models: [slow-echo]"]);
  return startTestGateway({ TOLLGATE_CONFIG: config, TOLLGATE_ADMIN_KEY: ADMIN });
}

const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(" ");

async function startStream(gw: TestGateway, text: string) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "slow-echo", stream: true, messages: [{ role: "user", content: text }] }),
  });
  expect(res.status).toBe(200);
  return res;
}

/** The streamed content and whether `[DONE]` arrived. */
async function readStream(res: Response): Promise<{ content: string; done: boolean }> {
  const body = await res.text().catch(() => "");
  let content = "";
  let done = false;
  for (const line of body.split("\n")) {
    if (!line.startsWith("data: ")) continue;
    const data = line.slice(6).trim();
    if (data === "[DONE]") done = true;
    else content += JSON.parse(data).choices?.[0]?.delta?.content ?? "";
  }
  return { content, done };
}

describe("graceful shutdown", () => {
  const dirs: TestGateway[] = [];
  afterAll(async () => {
    for (const gw of dirs) await gw.dispose().catch(() => {});
  });

  test("an in-flight stream finishes after stop(); its events are all in the log; new connections are refused", async () => {
    const gw = await slowGateway(40);
    dirs.push(gw);
    const text = words(25); // ~1 s of streaming
    const res = await startStream(gw, text);
    const reading = readStream(res);
    await Bun.sleep(150); // mid-stream
    const stopping = gw.stop({ drainMs: 10_000 });
    await Bun.sleep(50);
    const refused = await fetch(`${gw.url}/health`).then(
      () => false,
      () => true,
    );
    expect(refused).toBe(true);
    const { content, done } = await reading;
    await stopping;
    expect(done).toBe(true);
    expect(content).toBe(text);
    expect(gw.drained).toBe("drained");
    // The log was closed by stop(): reopen it read-only through a fresh handle.
    const { FileEventLog: Log } = await import("../../src/events/file-log.ts");
    const log = await Log.open({ dir: `${gw.dataDir}/log` });
    try {
      const events = await readAll(log as FileEventLog, "requests");
      const completed = events.filter((e) => e.type === "request.completed");
      expect(completed).toHaveLength(1);
      expect(completed[0]!.payload).toMatchObject({ status: "ok", stream: true, model: "slow-echo" });
      const received = events.filter((e) => e.type === "request.received" && e.requestId === completed[0]!.requestId);
      expect(received).toHaveLength(1);
    } finally {
      await log.close();
    }
  });

  test("the drain timeout cuts a stream that outlives it, and stop() still completes", async () => {
    const gw = await slowGateway(200);
    dirs.push(gw);
    const res = await startStream(gw, words(50)); // ~10 s
    const reading = readStream(res);
    await Bun.sleep(100);
    const t0 = performance.now();
    await gw.stop({ drainMs: 300 });
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(gw.drained).toBe("timed_out");
    const { done } = await reading;
    expect(done).toBe(false);
    // The cut stream is still recorded, as a client disconnect, before the log closed.
    const { FileEventLog: Log } = await import("../../src/events/file-log.ts");
    const log = await Log.open({ dir: `${gw.dataDir}/log` });
    try {
      const completed = (await readAll(log as FileEventLog, "requests")).filter((e) => e.type === "request.completed");
      expect(completed).toHaveLength(1);
      expect(completed[0]!.payload).toMatchObject({ status: "client_disconnected", stream: true });
    } finally {
      await log.close();
    }
  });
});

describe("drainServer", () => {
  test("marks the lifecycle draining and reports a clean drain", async () => {
    const lifecycle = new Lifecycle();
    const calls: boolean[] = [];
    const outcome = await drainServer({ stop: async (force) => void calls.push(force === true) }, lifecycle, 1000);
    expect(lifecycle.draining).toBe(true);
    expect(outcome).toBe("drained");
    expect(calls).toEqual([false]);
  });

  test("forces the close when the connections outlive the timeout", async () => {
    const lifecycle = new Lifecycle();
    const calls: boolean[] = [];
    const outcome = await drainServer({ stop: (force) => (calls.push(force === true), force ? undefined : new Promise<void>(() => {})) }, lifecycle, 50);
    expect(outcome).toBe("timed_out");
    expect(calls).toEqual([false, true]);
  });
});
