import { describe, expect, test } from "bun:test";
import { encodeSSE, parseSSE, type SSEEvent } from "../../src/providers/sse.ts";
import { collect } from "../helpers/provider-calls.ts";

const enc = new TextEncoder();

/** A byte stream emitting the given chunks; `cancelled` resolves when the consumer cancels it. */
function streamOf(chunks: Array<string | Uint8Array>, opts: { endless?: boolean } = {}) {
  let cancelResolve!: (reason: unknown) => void;
  const cancelled = new Promise<unknown>((r) => (cancelResolve = r));
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i < chunks.length) {
        const c = chunks[i++]!;
        controller.enqueue(typeof c === "string" ? enc.encode(c) : c);
      } else if (opts.endless) {
        await Bun.sleep(5); // keep the connection "open" forever, yielding nothing
      } else {
        controller.close();
      }
    },
    cancel(reason) {
      cancelResolve(reason);
    },
  });
  return { stream, cancelled };
}

/** Every event parsed from a stream of the given chunks. */
const parseAll = (chunks: Array<string | Uint8Array>): Promise<SSEEvent[]> => collect(parseSSE(streamOf(chunks).stream));

/** Every byte on its own: the worst case for line and UTF-8 boundaries. */
function byteByByte(text: string): Uint8Array[] {
  return Array.from(enc.encode(text), (b) => new Uint8Array([b]));
}

describe("parseSSE", () => {
  test("parses data events separated by blank lines", async () => {
    expect(await parseAll(["data: one\n\ndata: two\n\n"])).toEqual([{ data: "one" }, { data: "two" }]);
  });

  test("accepts LF, CRLF and CR line endings, also mixed", async () => {
    const expected = [{ data: "a" }, { data: "b" }, { data: "c" }];
    expect(await parseAll(["data: a\n\ndata: b\n\ndata: c\n\n"])).toEqual(expected);
    expect(await parseAll(["data: a\r\n\r\ndata: b\r\n\r\ndata: c\r\n\r\n"])).toEqual(expected);
    expect(await parseAll(["data: a\r\rdata: b\r\rdata: c\r\r"])).toEqual(expected);
    expect(await parseAll(["data: a\r\n\ndata: b\r\rdata: c\n\r\n"])).toEqual(expected);
  });

  test("joins multi-line data with LF", async () => {
    expect(await parseAll(["data: line 1\ndata: line 2\ndata:\ndata: line 4\n\n"])).toEqual([
      { data: "line 1\nline 2\n\nline 4" },
    ]);
  });

  test("ignores comments, reads event and id, strips only one space after the colon", async () => {
    const events = await parseAll([": keep-alive\n\nevent: delta\nid: 42\ndata:  two spaces\n\ndata:nospace\n\n"]);
    expect(events[0]).toEqual({ event: "delta", id: "42", data: " two spaces" });
    expect(events[1]?.data).toBe("nospace");
    expect(events[1]?.event).toBeUndefined();
    expect(events).toHaveLength(2);
  });

  test("strips a leading BOM", async () => {
    expect(await parseAll(["\uFEFFdata: x\n\n"])).toEqual([{ data: "x" }]);
  });

  test("chunk boundaries anywhere, including inside multi-byte UTF-8 and CRLF", async () => {
    const text = 'event: msg\r\ndata: {"content":"héllo 👋🏽 世界 👨‍👩‍👧"}\r\ndata: second line ✓\r\n\r\n: comment\r\ndata: [DONE]\r\n\r\n';
    const whole = await parseAll([text]);
    expect(whole).toEqual([
      { event: "msg", data: '{"content":"héllo 👋🏽 世界 👨‍👩‍👧"}\nsecond line ✓' },
      { data: "[DONE]" },
    ]);
    expect(await parseAll(byteByByte(text))).toEqual(whole);
    // every two-way split of the byte sequence
    const bytes = enc.encode(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(await parseAll([bytes.slice(0, cut), bytes.slice(cut)])).toEqual(whole);
    }
  });

  test("discards an unterminated final event", async () => {
    expect(await parseAll(["data: complete\n\ndata: partial"])).toEqual([{ data: "complete" }]);
    expect(await parseAll(["data: partial\n"])).toEqual([]);
  });

  test("yields events as they complete, before the stream ends", async () => {
    const { stream } = streamOf(["data: first\n\n"], { endless: true });
    const it = parseSSE(stream);
    const first = await it.next();
    expect(first.value).toEqual({ data: "first" });
    await it.return();
  });

  test("returning early cancels the source stream", async () => {
    const { stream, cancelled } = streamOf(["data: 1\n\ndata: 2\n\n"], { endless: true });
    for await (const ev of parseSSE(stream)) {
      expect(ev.data).toBe("1");
      break;
    }
    await cancelled;
  });

  test("abort signal cancels the stream and throws the abort reason", async () => {
    const { stream, cancelled } = streamOf(["data: 1\n\n"], { endless: true });
    const ctrl = new AbortController();
    const seen: string[] = [];
    const run = (async () => {
      for await (const ev of parseSSE(stream, ctrl.signal)) {
        seen.push(ev.data);
        setTimeout(() => ctrl.abort(new Error("client went away")), 10);
      }
    })();
    await expect(run).rejects.toThrow("client went away");
    expect(seen).toEqual(["1"]);
    await cancelled;
  });

  test("an already aborted signal throws before reading", async () => {
    const { stream, cancelled } = streamOf(["data: 1\n\n"]);
    const run = async () => {
      for await (const _ of parseSSE(stream, AbortSignal.abort(new Error("gone")))) {
        // nothing
      }
    };
    await expect(run()).rejects.toThrow("gone");
    await cancelled;
  });
});

describe("encodeSSE", () => {
  test("formats data and event lines", () => {
    expect(encodeSSE('{"a":1}')).toBe('data: {"a":1}\n\n');
    expect(encodeSSE("[DONE]")).toBe("data: [DONE]\n\n");
    expect(encodeSSE("x", "message_start")).toBe("event: message_start\ndata: x\n\n");
  });

  test("splits multi-line data into several data lines", () => {
    expect(encodeSSE("a\nb\r\nc\rd")).toBe("data: a\ndata: b\ndata: c\ndata: d\n\n");
  });

  test("round-trips through parseSSE", async () => {
    const payloads = ["plain", "multi\nline\n\ntext", "", " leading space", "emoji 🎉 and 中文", '{"json":true}'];
    const wire = payloads.map((p, i) => encodeSSE(p, i % 2 ? "ev" : undefined)).join("");
    const events = await parseAll(byteByByte(wire));
    expect(events.map((e) => e.data)).toEqual(payloads);
    expect(events.map((e) => e.event)).toEqual(payloads.map((_, i) => (i % 2 ? "ev" : undefined)));
  });
});
