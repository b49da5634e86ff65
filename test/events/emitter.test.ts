import { afterEach, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BatchingEmitter } from "../../src/events/emitter.ts";
import { makeEvent, type StreamName } from "../../src/events/envelope.ts";
import type { AppendInput, EventLog } from "../../src/events/event-log.ts";
import { FileEventLog } from "../../src/events/file-log.ts";
import { readAll } from "../helpers/gateway.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function openLog() {
  const dir = await mkdtemp(join(tmpdir(), "tollgate-emitter-"));
  dirs.push(dir);
  return FileEventLog.open({ dir });
}

/** A log whose appends fail while `down` is true, and which counts append calls. */
function flaky(log: EventLog) {
  const state = { down: false, calls: 0, sizes: [] as number[] };
  const wrapped: EventLog = Object.create(log);
  wrapped.append = async (stream: StreamName, records: AppendInput[]) => {
    state.calls++;
    state.sizes.push(records.length);
    if (state.down) throw new Error("log unavailable");
    return log.append(stream, records);
  };
  return { wrapped, state };
}

const ev = (i: number, tenant = "t") => makeEvent({ type: "test.happened", tenant, payload: { i } });

describe("BatchingEmitter", () => {
  test("emit is synchronous; events are appended in batches, in order", async () => {
    const log = await openLog();
    const { wrapped, state } = flaky(log);
    const emitter = new BatchingEmitter(wrapped, { maxBatch: 100, lingerMs: 5 });
    for (let i = 0; i < 1000; i++) emitter.emit("requests", "t", ev(i));
    expect(emitter.pending).toBe(1000); // nothing awaited the log yet
    await emitter.flush();
    expect(emitter.pending).toBe(0);
    expect(state.calls).toBeLessThanOrEqual(10 + 1);
    expect(Math.max(...state.sizes)).toBeLessThanOrEqual(100);
    const stored = await readAll(log, "requests");
    expect(stored.map((e) => e.payload.i)).toEqual([...Array(1000).keys()]);
    await emitter.close();
    await log.close();
  });

  test("a failing log loses nothing: events stay queued and are appended once it recovers", async () => {
    const log = await openLog();
    const { wrapped, state } = flaky(log);
    const errors: string[] = [];
    const emitter = new BatchingEmitter(wrapped, { lingerMs: 1, onAppendError: (e) => errors.push((e as Error).message) });
    state.down = true;
    for (let i = 0; i < 50; i++) emitter.emit("requests", "t", ev(i));
    while (errors.length < 2) await Bun.sleep(10);
    expect(emitter.pending).toBe(50);
    expect(emitter.lastError).toBe("log unavailable");
    state.down = false;
    await emitter.flush();
    expect(emitter.lastError).toBeUndefined();
    const stored = await readAll(log, "requests");
    expect(stored.map((e) => e.payload.i)).toEqual([...Array(50).keys()]);
    await emitter.close();
    await log.close();
  });

  test("past the high-water mark it reports saturated (the HTTP layer then refuses new work)", async () => {
    const log = await openLog();
    const { wrapped, state } = flaky(log);
    state.down = true;
    const emitter = new BatchingEmitter(wrapped, { highWater: 10, lingerMs: 1 });
    for (let i = 0; i < 9; i++) emitter.emit("requests", "t", ev(i));
    expect(emitter.saturated).toBe(false);
    emitter.emit("requests", "t", ev(9));
    expect(emitter.saturated).toBe(true);
    state.down = false;
    await emitter.flush();
    expect(emitter.saturated).toBe(false);
    await emitter.close();
    await log.close();
  });

  test("events for different streams go to their own streams", async () => {
    const log = await openLog();
    const emitter = new BatchingEmitter(log);
    emitter.emit("requests", "t", ev(1));
    emitter.emit("config", "entity-1", ev(2));
    emitter.emit("requests", "t", ev(3));
    await emitter.close();
    expect((await readAll(log, "requests")).map((e) => e.payload.i)).toEqual([1, 3]);
    expect((await readAll(log, "config")).map((e) => e.payload.i)).toEqual([2]);
    await log.close();
  });

  test("close() flushes and then refuses new events", async () => {
    const log = await openLog();
    const emitter = new BatchingEmitter(log);
    emitter.emit("requests", "t", ev(1));
    await emitter.close();
    expect(() => emitter.emit("requests", "t", ev(2))).toThrow(/closed/);
    expect(await readAll(log, "requests")).toHaveLength(1);
    await log.close();
  });

  test("settled() resolves once every event emitted before it is appended, without waiting for the linger", async () => {
    const log = await openLog();
    const { wrapped, state } = flaky(log);
    const emitter = new BatchingEmitter(wrapped, { lingerMs: 60_000 }); // only settled() can drain
    for (let i = 0; i < 3; i++) emitter.emit("requests", "t", ev(i));
    await emitter.settled();
    expect(emitter.pending).toBe(0);
    expect((await readAll(log, "requests")).map((e) => e.payload.i)).toEqual([0, 1, 2]);
    expect(state.calls).toBe(1);
    await emitter.settled(); // nothing pending: resolves at once, no append
    expect(state.calls).toBe(1);
    await emitter.close();
    await log.close();
  });

  test("settled() group-commits: many requests settling in one turn share one append", async () => {
    const log = await openLog();
    const { wrapped, state } = flaky(log);
    const emitter = new BatchingEmitter(wrapped, { lingerMs: 60_000 });
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      emitter.emit("requests", "t", ev(i));
      waits.push(emitter.settled());
    }
    await Promise.all(waits);
    expect(state.calls).toBe(1);
    expect(state.sizes).toEqual([50]);
    await emitter.close();
    await log.close();
  });

  test("settled() waits through a failing log and resolves once the events are in", async () => {
    const log = await openLog();
    const { wrapped, state } = flaky(log);
    const emitter = new BatchingEmitter(wrapped, { lingerMs: 60_000, onAppendError: () => {} });
    state.down = true;
    emitter.emit("requests", "t", ev(1));
    let done = false;
    const settled = emitter.settled().then(() => (done = true));
    await Bun.sleep(80);
    expect(done).toBe(false); // not answered while its events are not stored
    state.down = false;
    await settled;
    expect((await readAll(log, "requests")).map((e) => e.payload.i)).toEqual([1]);
    await emitter.close();
    await log.close();
  });
});
