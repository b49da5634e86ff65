/**
 * Lines written together: every line handed over in one turn of the event loop goes out in one
 * write (a request log under load is thousands of lines a second; one synchronous write each
 * cost more than building them). Flushed at the end of the turn, past `maxBytes`, and on exit,
 * so nothing is lost when the process ends normally.
 */
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

/**
 * `console.info` (so LOG_LEVEL silences it as every other info line), one call per turn of the
 * event loop for all its lines (see {@link lineWriter}); flushed on exit.
 */
export function infoLines(): LineWriter {
  const w = lineWriter((chunk) => console.info(chunk.slice(0, -1)));
  process.on("exit", () => w.flush());
  return w;
}
