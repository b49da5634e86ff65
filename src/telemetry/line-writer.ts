/**
 * Lines written together: every line handed over in one turn of the event loop goes out in one
 * write (a request log under load is thousands of lines a second; one synchronous write each
 * cost more than building them). Flushed at the end of the turn, past `maxBytes`, and on exit,
 * so nothing is lost when the process ends normally.
 */
import { writeSync } from "node:fs";

export interface LineWriter {
  (line: string): void;
  flush(): void;
}

export function lineWriter(write: (chunk: string) => void, maxBytes = 64 * 1024): LineWriter {
  let pending = "";
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending === "") return;
    const chunk = pending;
    pending = "";
    try {
      write(chunk);
    } catch {
      // a closed stdout must never break a request
    }
  };
  const writer = ((line: string) => {
    pending += line + "\n";
    if (pending.length >= maxBytes) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  }) as LineWriter;
  writer.flush = flush;
  return writer;
}

/** The runtime's own `console.info`, as it was when this module loaded. */
const runtimeInfo = console.info;

/**
 * Standard output at info level (see {@link lineWriter}), flushed on exit. Written straight to
 * file descriptor 1 while `console.info` is the runtime's own (its formatting cost more per
 * line than the write); through `console.info` once something replaced it (LOG_LEVEL silencing
 * it, a test capturing it), so every info line obeys the same switch.
 */
export function infoLines(): LineWriter {
  const w = lineWriter((chunk) => {
    if (console.info !== runtimeInfo) return console.info(chunk.slice(0, -1));
    const buf = Buffer.from(chunk);
    for (let done = 0; done < buf.length; ) done += writeSync(1, buf, done, buf.length - done);
  });
  process.on("exit", () => w.flush());
  return w;
}
