/**
 * Lines written together: the lines handed over within `delayMs` (default 0: the end of the
 * current turn of the event loop) go out in one write (a request log under load is thousands of
 * lines a second; one synchronous write each cost more than building them; at one request at a
 * time, a write per request was 3–4% of the gateway's CPU). Flushed after the delay, past
 * `maxBytes`, and on exit, so nothing is lost when the process ends normally.
 */
import { writeSync } from "node:fs";

export interface LineWriter {
  (line: string): void;
  flush(): void;
}

export function lineWriter(write: (chunk: string) => void, maxBytes = 64 * 1024, delayMs = 0): LineWriter {
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
      if (delayMs > 0) setTimeout(flush, delayMs).unref();
      else setImmediate(flush);
    }
  }) as LineWriter;
  writer.flush = flush;
  return writer;
}

/** The request log's lines are written at most this long after their request ended. */
export const REQUEST_LOG_DELAY_MS = 100;

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
  }, 64 * 1024, REQUEST_LOG_DELAY_MS);
  process.on("exit", () => w.flush());
  return w;
}
