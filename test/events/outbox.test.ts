/** The outbox keeps the gateway writing while the inner log is down or slow, and loses nothing. */
import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeEvent, type StreamName } from "../../src/events/envelope.ts";
import type { AppendInput, EventLog } from "../../src/events/event-log.ts";
import { FileEventLog } from "../../src/events/file-log.ts";
import { OutboxEventLog } from "../../src/events/outbox.ts";
import { readAll } from "../helpers/gateway.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function fileLog(partitions = 1) {
  const dir = await mkdtemp(join(tmpdir(), "tollgate-outbox-"));
  dirs.push(dir);
  return { dir, log: await FileEventLog.open({ dir, partitions: { requests: partitions } }) };
}

/** An inner log that can be down (throws), hang (never answers), or up. */
function controllable(inner: EventLog) {
  const mode = { value: "up" as "up" | "down" | "hang" };
  const wrapped: EventLog = Object.create(inner);
  wrapped.append = (stream: StreamName, records: AppendInput[]) => {
    if (mode.value === "down") return Promise.reject(new Error("broker unreachable"));
    if (mode.value === "hang") return new Promise(() => {});
    return inner.append(stream, records);
  };
  wrapped.close = async () => {};
  return { wrapped, mode };
}

const ev = (i: number, tenant: string) => makeEvent({ type: "test.happened", tenant, payload: { i } });

describe("OutboxEventLog", () => {
  test("up: appends go straight through", async () => {
    const inner = await fileLog(3);
    const out = await fileLog();
    const { wrapped } = controllable(inner.log);
    const log = await OutboxEventLog.open(wrapped, out.log, { appendTimeoutMs: 200 });
    const r = await log.append("requests", [{ key: "a", event: ev(1, "a") }]);
    expect(r[0]!.offset).toBe(0);
    expect(log.stats.direct).toBe(1);
    expect(log.backlog).toBe(0);
    await log.close();
    await inner.log.close();
  });

  for (const failure of ["down", "hang"] as const) {
    test(`${failure}: appends land in the outbox, then are forwarded in order per key with ids kept`, async () => {
      const inner = await fileLog(3);
      const out = await fileLog();
      const { wrapped, mode } = controllable(inner.log);
      const log = await OutboxEventLog.open(wrapped, out.log, { appendTimeoutMs: 100 });
      const sent: ReturnType<typeof ev>[] = [];
      const push = async (n: number) => {
        for (let i = 0; i < n; i++) {
          const tenant = `t${i % 4}`;
          const e = ev(sent.length, tenant);
          sent.push(e);
          await log.append("requests", [{ key: tenant, event: e }]);
        }
      };
      await push(20);
      mode.value = failure;
      const t0 = performance.now();
      await push(50); // never waits longer than the timeout once, then the outbox answers
      expect(performance.now() - t0).toBeLessThan(5_000);
      expect(log.backlog).toBeGreaterThan(0);
      mode.value = "up";
      await push(10);
      expect(await log.drained(10_000)).toBe(true);
      const stored = await readAll(inner.log, "requests");
      // every event exactly once (hang: the timed-out batch never landed) and ids preserved
      expect(new Set(stored.map((e) => e.id))).toEqual(new Set(sent.map((e) => e.id)));
      // order per tenant kept
      for (const tenant of ["t0", "t1", "t2", "t3"]) {
        const got = stored.filter((e) => e.tenant === tenant).map((e) => e.payload.i as number);
        expect(got).toEqual([...got].sort((a, b) => a - b));
      }
      await log.close();
      await inner.log.close();
    });
  }

  test("a backlog left by a previous run is forwarded on open", async () => {
    const inner = await fileLog();
    const out = await fileLog();
    const { wrapped, mode } = controllable(inner.log);
    mode.value = "down";
    const first = await OutboxEventLog.open(wrapped, out.log, { appendTimeoutMs: 50 });
    await first.append("requests", [{ key: "a", event: ev(1, "a") }, { key: "a", event: ev(2, "a") }]);
    expect(first.backlog).toBe(2);
    await out.log.close(); // the process "dies" with a backlog
    const reopened = await FileEventLog.open({ dir: out.dir });
    mode.value = "up";
    const second = await OutboxEventLog.open(wrapped, reopened, { appendTimeoutMs: 50 });
    expect(await second.drained(5_000)).toBe(true);
    expect((await readAll(inner.log, "requests")).map((e) => e.payload.i)).toEqual([1, 2]);
    await second.close();
    // The "dead" first instance's forwarder would otherwise keep retrying in this test process.
    await first.close().catch(() => {});
    await inner.log.close();
  });

  test("writeAhead: every append is in the outbox when it resolves, even with the broker up, then forwarded; forwarded segments are deleted", async () => {
    const inner = await fileLog();
    const outDir = await mkdtemp(join(tmpdir(), "tollgate-outbox-"));
    dirs.push(outDir);
    const outLog = await FileEventLog.open({ dir: outDir, segmentBytes: 2048, fsyncIntervalMs: 5 });
    const { wrapped, mode } = controllable(inner.log);
    mode.value = "hang"; // a broker that never answers must not hold the append up
    const box = await OutboxEventLog.open(wrapped, outLog, { writeAhead: true, appendTimeoutMs: 50 });
    for (let i = 0; i < 40; i++) {
      const r = await box.append("requests", [{ key: "k", event: ev(i, "k") }]);
      expect(r[0]!.offset).toBe(-1);
    }
    expect(box.stats.outboxed).toBe(40);
    expect((await outLog.endOffsets("requests"))[0]).toBe(40);
    mode.value = "up";
    expect(await box.drained(5_000)).toBe(true);
    const forwarded = await readAll(inner.log, "requests");
    expect(forwarded.map((e) => e.payload.i).slice(-40)).toEqual([...Array(40).keys()]);
    await box.close(); // stores the forwarder's progress (otherwise at most every 100 ms)
    const segs = readdirSync(join(outDir, "requests", "0")).filter((f) => f.endsWith(".seg"));
    expect(segs.length).toBe(1); // only the active segment is left
    await inner.log.close();
  });

  test("writeAhead: after a crash between send and commit, the forwarder does not send the batch again", async () => {
    const inner = await fileLog();
    const out = await fileLog();
    const { wrapped, mode } = controllable(inner.log);
    mode.value = "down";
    // No linger: its forwarder tries at once (Kafka down) and is in its backoff when the process "dies".
    const first = await OutboxEventLog.open(wrapped, out.log, { writeAhead: true, appendTimeoutMs: 50, forwardLingerMs: 0 });
    const events = [ev(1, "a"), ev(2, "a"), ev(3, "a")];
    await first.append("requests", events.map((event) => ({ key: "a", event })));
    await out.log.close(); // the process "dies"...
    await inner.log.append("requests", events.slice(0, 2).map((event) => ({ key: "a", event }))); // ...after its forwarder sent two
    const reopened = await FileEventLog.open({ dir: out.dir });
    mode.value = "up";
    const second = await OutboxEventLog.open(wrapped, reopened, { writeAhead: true, appendTimeoutMs: 50 });
    expect(await second.drained(5_000)).toBe(true);
    expect((await readAll(inner.log, "requests")).map((e) => e.payload.i)).toEqual([1, 2, 3]);
    await second.close();
    await first.close().catch(() => {});
    await inner.log.close();
  });
  test("writeAhead: close() forwards everything still in the outbox (a stopped replica's outbox may never be opened again)", async () => {
    const inner = await fileLog();
    const outDir = await mkdtemp(join(tmpdir(), "tollgate-outbox-"));
    dirs.push(outDir);
    const outLog = await FileEventLog.open({ dir: outDir });
    const box = await OutboxEventLog.open(inner.log, outLog, { writeAhead: true, forwardLingerMs: 0 });
    // Appends landing while a forward pass is in flight, then an immediate stop.
    for (let i = 0; i < 30; i++) void box.append("requests", [{ key: "k", event: ev(i, "k") }]);
    await box.append("requests", [{ key: "k", event: ev(30, "k") }]);
    await box.close();
    const reopened = await FileEventLog.open({ dir: inner.dir });
    try {
      expect((await readAll(reopened, "requests")).map((e) => e.payload.i)).toEqual([...Array(31).keys()]);
    } finally {
      await reopened.close();
    }
  });
});
