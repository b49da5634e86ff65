/**
 * The EventLog contract, written once and run against every implementation
 * (file-log.test.ts, and the Kafka one). Implementation-agnostic: no file-system
 * assumptions, and anything asynchronous is awaited by polling, never by fixed sleeps.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { makeEvent, type EventEnvelope, type StreamName } from "../../src/events/envelope.ts";
import { offsetsSince, partitionFor, type AppendInput, type EventLog, type StoredEvent } from "../../src/events/event-log.ts";

export type EventLogFactory = () => Promise<{ log: EventLog; cleanup: () => Promise<void> }>;

const STREAM: StreamName = "requests";
const WAIT_MS = 10_000;

/** Poll `check` until it returns true (or throw after `timeoutMs`). */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(10);
  }
}

export function testEvent(tenant: string, seq: number, extra: Record<string, unknown> = {}): EventEnvelope {
  return makeEvent({ type: "request.received", tenant, requestId: `req-${tenant}-${seq}`, payload: { seq, ...extra } });
}

function inputs(n: number, keys: string[], from = 0): AppendInput[] {
  return Array.from({ length: n }, (_, i) => {
    const key = keys[(from + i) % keys.length] ?? "k";
    return { key, event: testEvent(key, from + i) };
  });
}

/** All records of a stream, partition by partition. */
async function readAll(log: EventLog, stream: StreamName = STREAM): Promise<StoredEvent[]> {
  const ends = await log.endOffsets(stream);
  const out: StoredEvent[] = [];
  for (let p = 0; p < ends.length; p++) out.push(...(await log.read(stream, p, 0, ends[p] ?? 0)));
  return out;
}

function seqOf(e: StoredEvent): number {
  return e.event.payload.seq as number;
}

function uniqueGroup(name: string): string {
  return `${name}-${crypto.randomUUID()}`;
}

export function eventLogContract(name: string, factory: EventLogFactory): void {
  describe(`EventLog contract: ${name}`, () => {
    let log: EventLog;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ log, cleanup } = await factory());
    });
    afterEach(async () => {
      await log.close();
      await cleanup();
    });

    test("a fresh stream is empty", async () => {
      const ends = await log.endOffsets(STREAM);
      expect(ends.length).toBe(log.partitions(STREAM));
      expect(ends.every((e) => e === 0)).toBe(true);
      expect(await log.read(STREAM, 0, 0, 10)).toEqual([]);
    });

    test("append returns dense offsets from 0, in order", async () => {
      const first = await log.append(STREAM, inputs(5, ["tenant-a"]));
      const second = await log.append(STREAM, inputs(3, ["tenant-a"], 5));
      const p = partitionFor("tenant-a", log.partitions(STREAM));
      expect([...first, ...second]).toEqual(Array.from({ length: 8 }, (_, i) => ({ partition: p, offset: i })));
    });

    test("read from an offset, with and without max", async () => {
      const recs = inputs(10, ["tenant-r"]);
      const [{ partition } = { partition: -1 }] = await log.append(STREAM, recs);
      const mid = await log.read(STREAM, partition, 3, 4);
      expect(mid.map((e) => e.offset)).toEqual([3, 4, 5, 6]);
      expect(mid.map((e) => e.event)).toEqual(recs.slice(3, 7).map((r) => r.event));
      expect(mid.every((e) => e.stream === STREAM && e.partition === partition && e.key === "tenant-r")).toBe(true);
      expect((await log.read(STREAM, partition, 7)).map((e) => e.offset)).toEqual([7, 8, 9]);
      expect(await log.read(STREAM, partition, 10, 5)).toEqual([]);
    });

    test("same key goes to the same partition, and order per key is kept", async () => {
      const keys = ["t1", "t2", "t3", "t4", "t5"];
      const recs = inputs(100, keys);
      const results = await log.append(STREAM, recs);
      results.forEach((r, i) => expect(r.partition).toBe(partitionFor(recs[i]?.key ?? "", log.partitions(STREAM))));
      const all = await readAll(log);
      for (const key of keys) {
        const seqs = all.filter((e) => e.key === key).map(seqOf);
        expect(seqs).toEqual(recs.filter((r) => r.key === key).map((r) => r.event.payload.seq as number));
      }
    });

    test("offsetsSince: per partition, at or before the first event of the window, never after it (helper over read/endOffsets)", async () => {
      const t0 = Date.UTC(2026, 11, 6, 12, 0, 0);
      // 1,500 events one second apart on one key (strides of 256, 512, 1024 are probed), then an empty partition.
      const recs: AppendInput[] = Array.from({ length: 1500 }, (_, i) => ({ key: "since-a", event: makeEvent({ type: "request.received", tenant: "since-a", time: new Date(t0 + i * 1000), payload: { seq: i } }) }));
      for (let i = 0; i < recs.length; i += 500) await log.append(STREAM, recs.slice(i, i + 500));
      const p = partitionFor("since-a", log.partitions(STREAM));
      const ends = await log.endOffsets(STREAM);
      for (const firstInWindow of [0, 1, 700, 1243, 1499, 1500]) {
        const from = await offsetsSince(log, STREAM, t0 + firstInWindow * 1000);
        expect(from.length).toBe(log.partitions(STREAM));
        expect(from[p]!).toBeLessThanOrEqual(firstInWindow);
        // Not far before it either: within the last stride (at most twice the distance to the end, plus the first stride).
        expect(from[p]!).toBeGreaterThanOrEqual(firstInWindow - Math.max(256, 2 * (1500 - firstInWindow)));
        from.forEach((o, q) => q !== p && expect(o).toBe(ends[q]!));
      }
    });

    test("endOffsets are the next offset per partition", async () => {
      const keys = ["e1", "e2", "e3", "e4"];
      const results = await log.append(STREAM, inputs(40, keys));
      const ends = await log.endOffsets(STREAM);
      expect(ends.reduce((a, b) => a + b, 0)).toBe(40);
      for (let p = 0; p < ends.length; p++) {
        expect(ends[p]).toBe(results.filter((r) => r.partition === p).length);
      }
    });

    test("event envelopes round-trip exactly (ids preserved)", async () => {
      const event = makeEvent({
        type: "request.completed",
        tenant: "tenant-x",
        requestId: "r-1",
        traceId: "0af7651916cd43dd8448eb211c80319c",
        actor: "key:abc",
        configVersion: 7,
        payload: { tokens: { in: 12, out: 34 }, cost: 0.00123, text: "héllo \u2028 \"quoted\" 🚀", list: [1, null, "x"] },
      });
      const [r] = await log.append(STREAM, [{ key: "tenant-x", event }]);
      if (!r) throw new Error("no append result");
      const [stored] = await log.read(STREAM, r.partition, r.offset, 1);
      expect(stored?.event).toEqual(event);
      expect(stored?.event.id).toBe(event.id);
      expect(stored?.key).toBe("tenant-x");
    });

    test("concurrent appends from many callers are all stored with unique offsets", async () => {
      const keys = ["c1", "c2", "c3", "c4", "c5", "c6", "c7"];
      const calls = Array.from({ length: 50 }, (_, c) => inputs(20, keys, c * 20));
      const results = await Promise.all(calls.map((recs) => log.append(STREAM, recs)));
      const seen = new Set<string>();
      results.flat().forEach((r) => seen.add(`${r.partition}:${r.offset}`));
      expect(seen.size).toBe(1000);
      // Within one call, offsets per partition increase (order given is kept).
      for (const res of results) {
        for (let p = 0; p < log.partitions(STREAM); p++) {
          const offs = res.filter((r) => r.partition === p).map((r) => r.offset);
          expect(offs).toEqual([...offs].sort((a, b) => a - b));
        }
      }
      const all = await readAll(log);
      expect(all.length).toBe(1000);
      expect(new Set(all.map((e) => e.event.id)).size).toBe(1000);
      const ends = await log.endOffsets(STREAM);
      for (let p = 0; p < ends.length; p++) {
        expect(all.filter((e) => e.partition === p).map((e) => e.offset)).toEqual(Array.from({ length: ends[p] ?? 0 }, (_, i) => i));
      }
      // Each result points at the event that was appended.
      const byId = new Map(all.map((e) => [`${e.partition}:${e.offset}`, e.event.id]));
      calls.forEach((recs, c) => recs.forEach((r, i) => {
        const res = results[c]?.[i];
        expect(byId.get(`${res?.partition}:${res?.offset}`)).toBe(r.event.id);
      }));
    });

    test("a consumer group starts at earliest, gets everything in order, commits after the handler", async () => {
      const keys = ["g1", "g2", "g3"];
      await log.append(STREAM, inputs(30, keys));
      const group = uniqueGroup("all");
      const got: StoredEvent[] = [];
      let commitBeforeHandlerDone = false;
      const sub = log.consume(STREAM, group, async (batch) => {
        const first = batch[0];
        if (!first) throw new Error("empty batch");
        if (batch.some((e) => e.partition !== first.partition)) throw new Error("mixed partitions in a batch");
        const committed = await log.committed(STREAM, group);
        if ((committed[first.partition] ?? 0) > first.offset) commitBeforeHandlerDone = true;
        got.push(...batch);
      }, { maxBatch: 7 });
      try {
        await waitFor(() => got.length >= 30, "30 events");
        await log.append(STREAM, inputs(5, keys, 30));
        await waitFor(() => got.length >= 35, "5 more events");
        const ends = await log.endOffsets(STREAM);
        await waitFor(async () => JSON.stringify(await log.committed(STREAM, group)) === JSON.stringify(ends), "commits");
      } finally {
        await sub.stop();
      }
      expect(got.length).toBe(35);
      expect(commitBeforeHandlerDone).toBe(false);
      for (const key of keys) {
        const seqs = got.filter((e) => e.key === key).map(seqOf);
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      }
      for (let p = 0; p < log.partitions(STREAM); p++) {
        const offs = got.filter((e) => e.partition === p).map((e) => e.offset);
        expect(offs).toEqual(Array.from({ length: offs.length }, (_, i) => i));
      }
    });

    test("types: only those events reach the handler, in order; offsets move past the rest, trailing ones included", async () => {
      const keys = ["t1", "t2"];
      const mixed: AppendInput[] = Array.from({ length: 40 }, (_, i) => {
        const key = keys[i % 2]!;
        // Every third is wanted; a decoy carries the wanted type's text inside its payload.
        const type = i % 3 === 0 ? "request.completed" : "request.received";
        return { key, event: makeEvent({ type, tenant: key, payload: { seq: i, note: i === 1 ? '"type":"request.completed"' : "" } }) };
      });
      await log.append(STREAM, mixed);
      const group = uniqueGroup("types");
      const got: StoredEvent[] = [];
      const sub = log.consume(STREAM, group, async (batch) => void got.push(...batch), { maxBatch: 4, types: ["request.completed"] });
      try {
        const ends = await log.endOffsets(STREAM);
        await waitFor(async () => JSON.stringify(await log.committed(STREAM, group)) === JSON.stringify(ends), "commits to the end");
      } finally {
        await sub.stop();
      }
      const wanted = mixed.filter((m) => m.event.type === "request.completed").map((m) => m.event.id);
      expect(got.every((e) => e.event.type === "request.completed")).toBe(true);
      expect(got.map((e) => e.event.id).sort()).toEqual([...wanted].sort());
      for (const key of keys) {
        const seqs = got.filter((e) => e.key === key).map(seqOf);
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      }
    });

    test("a group that never committed reports offset 0", async () => {
      await log.append(STREAM, inputs(3, ["z"]));
      expect(await log.committed(STREAM, uniqueGroup("none"))).toEqual(new Array(log.partitions(STREAM)).fill(0));
    });

    test("a throwing handler gets the same batch again and nothing is skipped", async () => {
      await log.append(STREAM, inputs(10, ["retry"]));
      const group = uniqueGroup("retry");
      const calls: StoredEvent[][] = [];
      const errors: { err: unknown; batch: StoredEvent[] }[] = [];
      const got: StoredEvent[] = [];
      const sub = log.consume(STREAM, group, async (batch) => {
        calls.push(batch);
        if (calls.length <= 2) throw new Error(`boom ${calls.length}`);
        got.push(...batch);
      }, { maxBatch: 4, onError: (err, batch) => errors.push({ err, batch }) });
      try {
        await waitFor(() => got.length >= 10, "10 events after retries");
      } finally {
        await sub.stop();
      }
      expect(errors.length).toBe(2);
      expect((errors[0]?.err as Error).message).toBe("boom 1");
      expect(calls[1]).toEqual(calls[0] ?? []);
      expect(calls[2]).toEqual(calls[0] ?? []);
      expect(errors[0]?.batch).toEqual(calls[0] ?? []);
      expect(got.map(seqOf)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    });

    test("a group resumes after its last committed offset", async () => {
      await log.append(STREAM, inputs(10, ["resume"]));
      const group = uniqueGroup("resume");
      const first: StoredEvent[] = [];
      const sub1 = log.consume(STREAM, group, async (b) => void first.push(...b));
      await waitFor(() => first.length >= 10, "first 10");
      const p = first[0]?.partition ?? 0;
      await waitFor(async () => (await log.committed(STREAM, group))[p] === 10, "commit of 10");
      await sub1.stop();

      await log.append(STREAM, inputs(5, ["resume"], 10));
      const second: StoredEvent[] = [];
      const sub2 = log.consume(STREAM, group, async (b) => void second.push(...b));
      try {
        await waitFor(() => second.length >= 5, "5 new events");
      } finally {
        await sub2.stop();
      }
      expect(second.map((e) => e.offset)).toEqual([10, 11, 12, 13, 14]);
      expect(second.map(seqOf)).toEqual([10, 11, 12, 13, 14]);
      expect(first.length).toBe(10);
    });

    test("two groups each get every event", async () => {
      await log.append(STREAM, inputs(20, ["a", "b", "c"]));
      const a: StoredEvent[] = [];
      const b: StoredEvent[] = [];
      const subA = log.consume(STREAM, uniqueGroup("a"), async (batch) => void a.push(...batch));
      const subB = log.consume(STREAM, uniqueGroup("b"), async (batch) => void b.push(...batch));
      try {
        await waitFor(() => a.length >= 20 && b.length >= 20, "both groups");
      } finally {
        await Promise.all([subA.stop(), subB.stop()]);
      }
      const ids = (xs: StoredEvent[]) => xs.map((e) => e.event.id).sort();
      expect(a.length).toBe(20);
      expect(ids(a)).toEqual(ids(b));
    });

    test('from: "latest" skips what was there before', async () => {
      await log.append(STREAM, inputs(5, ["late"]));
      const got: StoredEvent[] = [];
      const sub = log.consume(STREAM, uniqueGroup("latest"), async (b) => void got.push(...b), { from: "latest" });
      try {
        // The consumer may take a moment to position itself: keep appending markers until one arrives.
        for (let i = 0; got.length === 0; i++) {
          if (i >= 50) throw new Error("latest consumer never received a new event");
          await log.append(STREAM, [{ key: "late", event: testEvent("late", 1000 + i, { marker: true }) }]);
          await waitFor(() => got.length > 0, "marker", 200).catch(() => {});
        }
      } finally {
        await sub.stop();
      }
      expect(got.every((e) => e.event.payload.marker === true)).toBe(true);
      expect(got.every((e) => e.offset >= 5)).toBe(true);
    });

    test("stop() waits for the in-flight handler", async () => {
      await log.append(STREAM, inputs(3, ["stop"]));
      let started = false;
      let finished = false;
      const sub = log.consume(STREAM, uniqueGroup("stop"), async () => {
        started = true;
        await Bun.sleep(100);
        finished = true;
      });
      await waitFor(() => started, "handler start");
      await sub.stop();
      expect(finished).toBe(true);
    });

    test("health is ok while open", async () => {
      expect((await log.health()).ok).toBe(true);
    });
  });
}
