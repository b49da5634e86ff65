import { expect, test } from "bun:test";
import { lineWriter } from "../../src/telemetry/line-writer.ts";

test("lines of one turn of the event loop go out in one write, in order, at the end of the turn", async () => {
  const writes: string[] = [];
  const w = lineWriter((chunk) => writes.push(chunk));
  w("a");
  w("b");
  w("c");
  expect(writes).toEqual([]); // not yet: at the end of the turn
  await new Promise((r) => setImmediate(r));
  expect(writes).toEqual(["a\nb\nc\n"]);
  w("d");
  await new Promise((r) => setImmediate(r));
  expect(writes).toEqual(["a\nb\nc\n", "d\n"]);
});

test("past maxBytes the buffer is written at once; flush() writes what is left; a failing write is swallowed", async () => {
  const writes: string[] = [];
  const w = lineWriter((chunk) => writes.push(chunk), 10);
  w("12345");
  w("67890"); // 12 bytes with the newlines: written now
  expect(writes).toEqual(["12345\n67890\n"]);
  w("x");
  w.flush();
  expect(writes).toEqual(["12345\n67890\n", "x\n"]);
  const broken = lineWriter(() => {
    throw new Error("EPIPE");
  });
  broken("y");
  expect(() => broken.flush()).not.toThrow();
});

test("with a delay, the lines of that delay go out together, after it", async () => {
  const writes: string[] = [];
  const w = lineWriter((chunk) => writes.push(chunk), 64 * 1024, 30);
  w("a");
  await new Promise((r) => setImmediate(r));
  w("b");
  expect(writes).toEqual([]); // a turn later: still waiting
  await Bun.sleep(60);
  expect(writes).toEqual(["a\nb\n"]);
});
