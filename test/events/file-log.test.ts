import { afterEach, beforeEach, describe, expect, spyOn, test, type Mock } from "bun:test";
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { envelopeErrors, makeEvent } from "../../src/events/envelope.ts";
import type { StoredEvent } from "../../src/events/event-log.ts";
import { FileEventLog, type FileEventLogOptions } from "../../src/events/file-log.ts";
import { encodeRecords } from "../../src/events/segment.ts";
import { eventLogContract, testEvent, waitFor } from "./event-log.contract.ts";

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "tollgate-eventlog-"));
}

eventLogContract("FileEventLog (defaults)", async () => {
  const dir = await tempDir();
  return { log: await FileEventLog.open({ dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

eventLogContract("FileEventLog (3 partitions, 4 KiB segments)", async () => {
  const dir = await tempDir();
  const log = await FileEventLog.open({ dir, partitions: { requests: 3 }, segmentBytes: 4096 });
  return { log, cleanup: () => rm(dir, { recursive: true, force: true }) };
});

/**
 * envelope.ts declares `format: "uuid"` but registers no such format with TypeBox, so outside a
 * process that imported elysia (which registers it) every envelope fails with this message.
 * Until envelope.ts registers the format, the id is checked here instead (no global mutation).
 */
const UNKNOWN_UUID_FORMAT = "Unknown format 'uuid'";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const seqs = (xs: StoredEvent[]) => xs.map((e) => e.event.payload.seq as number);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const batch = (from: number, n: number, key = "acme") => range(from, from + n).map((i) => ({ key, event: testEvent(key, i) }));
const segmentsOf = (dir: string, p = 0) => readdirSync(join(dir, "requests", String(p))).filter((f) => f.endsWith(".seg")).sort();

describe("FileEventLog on disk", () => {
  let dir: string;
  let warn: Mock<typeof console.warn>;
  const open = (opts: Partial<FileEventLogOptions> = {}) => FileEventLog.open({ dir, ...opts });

  beforeEach(async () => {
    dir = await tempDir();
    warn = spyOn(console, "warn").mockImplementation(() => {});
  });
  afterEach(async () => {
    warn.mockRestore();
    await rm(dir, { recursive: true, force: true });
  });

  test("survives reopen: events, next offsets and committed offsets are kept", async () => {
    let log = await open();
    await log.append("requests", batch(0, 25));
    await log.append("config", [{ key: "provider:openai", event: testEvent("admin", 0) }]);
    await log.commit("requests", "projector", 0, 20);
    await log.close();

    log = await open();
    expect(seqs(await log.read("requests", 0, 0))).toEqual(range(0, 25));
    expect(await log.endOffsets("config")).toEqual([1]);
    expect(await log.committed("requests", "projector")).toEqual([20]);
    expect(await log.append("requests", batch(25, 2))).toEqual([{ partition: 0, offset: 25 }, { partition: 0, offset: 26 }]);
    const got: StoredEvent[] = [];
    const sub = log.consume("requests", "projector", async (b) => void got.push(...b));
    await waitFor(() => got.length >= 7, "resumed consumer");
    await sub.stop();
    expect(got.map((e) => e.offset)).toEqual(range(20, 27));
    await log.close();
    expect(warn).not.toHaveBeenCalled();
  });

  test("segments roll over and everything reads back across them, also after reopen", async () => {
    let log = await open({ segmentBytes: 2048 });
    for (let i = 0; i < 400; i += 40) await log.append("requests", batch(i, 40));
    const check = async (l: FileEventLog) => {
      expect(seqs(await l.read("requests", 0, 0))).toEqual(range(0, 400));
      for (const from of [0, 1, 31, 32, 33, 99, 250, 399]) {
        expect(seqs(await l.read("requests", 0, from, 17))).toEqual(range(from, Math.min(400, from + 17)));
      }
    };
    await check(log);
    await log.close();
    const files = segmentsOf(dir);
    expect(files.length).toBeGreaterThan(5);
    expect(files[0]).toBe("00000000000000000000.seg");

    log = await open({ segmentBytes: 2048 });
    await check(log);
    await log.append("requests", batch(400, 10));
    expect(seqs(await log.read("requests", 0, 395))).toEqual(range(395, 410));
    await log.close();
  });

  const tails: [string, (seg: string) => void, number][] = [
    ["garbage bytes", (seg) => appendFileSync(seg, Buffer.from("\x13\x00\x00\x00garbage-not-a-record")), 30],
    ["a half-written record", (seg) => {
      const rec = encodeRecords([{ key: "acme", event: testEvent("acme", 999) }]);
      appendFileSync(seg, rec.subarray(0, rec.length >> 1));
    }, 30],
    ["a short header", (seg) => appendFileSync(seg, Buffer.from([0x10, 0x00, 0x00])), 30],
    ["a zero-filled tail", (seg) => appendFileSync(seg, Buffer.alloc(4096)), 30],
    ["a flipped byte in the last record", (seg) => {
      const buf = readFileSync(seg);
      buf[buf.length - 3] = (buf[buf.length - 3] ?? 0) ^ 0x01;
      writeFileSync(seg, buf);
    }, 29],
  ];

  for (const [what, damage, survivors] of tails) {
    test(`a torn tail (${what}) is truncated on open, with one warning`, async () => {
      let log = await open();
      await log.append("requests", batch(0, 30));
      await log.close();
      const seg = join(dir, "requests", "0", segmentsOf(dir)[0] ?? "");
      damage(seg);

      log = await open();
      expect(warn).toHaveBeenCalledTimes(1);
      expect(seqs(await log.read("requests", 0, 0))).toEqual(range(0, survivors));
      expect(await log.append("requests", batch(100, 3))).toEqual(range(survivors, survivors + 3).map((offset) => ({ partition: 0, offset })));
      await log.close();

      log = await open();
      expect(warn).toHaveBeenCalledTimes(1);
      expect(seqs(await log.read("requests", 0, 0))).toEqual([...range(0, survivors), 100, 101, 102]);
      await log.close();
    });
  }

  test("corruption in an older segment ends the partition there, without crashing", async () => {
    let log = await open({ segmentBytes: 1024 });
    for (let i = 0; i < 100; i += 10) await log.append("requests", batch(i, 10));
    await log.close();
    const [first, second] = segmentsOf(dir);
    const firstPath = join(dir, "requests", "0", first ?? "");
    const count = Number(second?.slice(0, 20)); // records in the first segment
    const buf = readFileSync(firstPath);
    buf[buf.length - 3] = (buf[buf.length - 3] ?? 0) ^ 0x01; // damage the first segment's last record
    writeFileSync(firstPath, buf);

    log = await open({ segmentBytes: 1024 });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(seqs(await log.read("requests", 0, 0))).toEqual(range(0, count - 1));
    await log.append("requests", batch(500, 2));
    await log.close();
    log = await open({ segmentBytes: 1024 });
    expect(seqs(await log.read("requests", 0, 0))).toEqual([...range(0, count - 1), 500, 501]);
    await log.close();
    expect(readdirSync(join(dir, "requests", "0")).some((f) => f.endsWith(".quarantined"))).toBe(true);
  });

  test("close: idempotent, stops consumers, later appends reject clearly", async () => {
    const log = await open();
    await log.append("requests", batch(0, 3));
    const got: StoredEvent[] = [];
    log.consume("requests", "g", async (b) => void got.push(...b));
    await waitFor(() => got.length === 3, "consumer");
    await Promise.all([log.close(), log.close()]);
    expect(log.append("requests", batch(3, 1))).rejects.toThrow(/closed/);
    expect((await log.health()).ok).toBe(false);
    expect(await open().then((l) => l.close())).toBeUndefined(); // the dir is free again
  });

  test("the same dir cannot be opened twice in one process", async () => {
    const log = await open();
    expect(open()).rejects.toThrow(/already open/);
    await log.close();
  });

  test("more partitions on disk than configured: keeps what is there", async () => {
    let log = await open({ partitions: { requests: 4 } });
    await log.append("requests", ["a", "b", "c", "d", "e"].map((k, i) => ({ key: k, event: testEvent(k, i) })));
    await log.close();
    log = await open();
    expect(log.partitions("requests")).toBe(4);
    expect((await log.endOffsets("requests")).reduce((a, b) => a + b, 0)).toBe(5);
    await log.close();
  });

  test("a killed writer loses no acknowledged event (SIGKILL, 5 rounds on one dir)", async () => {
    const script = join(import.meta.dir, "fixtures", "crash-writer.ts");
    const acked: [number, number][] = [];
    // Large batches make some kills land mid-write (a torn tail, repaired on open) — not every run.
    for (let round = 0; round < 5; round++) {
      acked.push(await runAndKill(script, dir));

      const log = await open({ partitions: { requests: 2 }, segmentBytes: 65536 });
      const seen = new Map<number, number>(); // seq → times stored
      const invalid: string[] = [];
      const ends = await log.endOffsets("requests");
      for (let p = 0; p < ends.length; p++) {
        const events = await log.read("requests", p, 0);
        expect(events.map((e) => e.offset)).toEqual(range(0, ends[p] ?? 0));
        for (const e of events) {
          const errors = envelopeErrors(e.event).filter((m) => !m.includes(UNKNOWN_UUID_FORMAT));
          if (!UUID.test(e.event.id)) errors.push(`bad id ${e.event.id}`);
          if (errors.length > 0) invalid.push(`${p}:${e.offset} ${errors.join("; ")}`);
          const seq = e.event.payload.seq as number;
          seen.set(seq, (seen.get(seq) ?? 0) + 1);
        }
      }
      expect(invalid).toEqual([]);
      expect([...seen].filter(([, n]) => n > 1)).toEqual([]);
      for (const [from, to] of acked) expect(range(from, to).filter((s) => !seen.has(s))).toEqual([]);
      await log.close();
    }
    expect(statSync(join(dir, "requests", "0")).isDirectory()).toBe(true);
  }, 60_000);
});

/**
 * Run the crash writer until it acknowledged a few thousand events, SIGKILL it at a random
 * moment, and return the acknowledged seq range [from, to).
 */
async function runAndKill(script: string, dir: string): Promise<[number, number]> {
  const proc = Bun.spawn(["bun", script, dir, "2", "65536"], { stdout: "pipe", stderr: "pipe" });
  try {
    const lines = lineReader(proc.stdout);
    let last: [number, number] = [0, 0];
    const target = 2000 + Math.floor(Math.random() * 2000);
    while (last[0] < target) {
      const line = await lines.next();
      if (line === null) throw new Error(`writer exited early: ${await new Response(proc.stderr).text()}`);
      last = parse(line);
    }
    await Bun.sleep(Math.random() * 100);
    proc.kill("SIGKILL");
    for (let line = await lines.next(); line !== null; line = await lines.next()) last = parse(line);
    await proc.exited;
    expect(proc.signalCode).toBe("SIGKILL");
    return [last[1] - last[0], last[1]];
  } finally {
    proc.kill("SIGKILL"); // never leave the writer running if the test fails
  }
}

function parse(line: string): [number, number] {
  const [a, b] = line.split(" ").map(Number);
  return [a ?? 0, b ?? 0];
}

/** Complete lines of a byte stream; null at its end (a trailing partial line is dropped). */
function lineReader(stream: ReadableStream<Uint8Array>): { next: () => Promise<string | null> } {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  return {
    async next() {
      for (;;) {
        const nl = buffered.indexOf("\n");
        if (nl >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          return line;
        }
        const { value, done } = await reader.read();
        if (done) return null;
        buffered += decoder.decode(value, { stream: true });
      }
    },
  };
}

describe("FileEventLog: dead letters on consume", () => {
  test("a record that is not a valid envelope goes to the deadletter stream with the reason; the consumer goes on", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tollgate-dlq-"));
    const log = await FileEventLog.open({ dir });
    const good1 = makeEvent({ type: "x.happened", tenant: "t", payload: { n: 1 } });
    const bad = { ...makeEvent({ type: "x.happened", tenant: "t", payload: { n: 2 } }), v: "one" } as unknown as typeof good1;
    const good2 = makeEvent({ type: "x.happened", tenant: "t", payload: { n: 3 } });
    await log.append("requests", [{ key: "t", event: good1 }, { key: "t", event: bad }, { key: "t", event: good2 }]);
    const seen: number[] = [];
    const sub = log.consume("requests", "dlq-test", async (batch) => {
      for (const r of batch) seen.push(r.event.payload.n as number);
    });
    const deadline = Date.now() + 5000;
    while (seen.length < 2 && Date.now() < deadline) await Bun.sleep(20);
    await sub.stop();
    expect(seen).toEqual([1, 3]);
    const dead = await log.read("deadletter", 0, 0);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.event.type).toBe("deadletter.recorded");
    expect(dead[0]!.event.payload).toMatchObject({ source: { stream: "requests", offset: 1 } });
    expect(String(dead[0]!.event.payload.reason)).toContain("/v");
    expect(await log.committed("requests", "dlq-test")).toEqual([3]);
    await log.close();
    await rm(dir, { recursive: true, force: true });
  });
});
