/**
 * Server-Sent Events: a streaming parser over a byte stream, and an encoder.
 *
 * Line parsing (LF / CR / CRLF, multi-line `data:`, comments, `event:`, `id:`, `retry:`,
 * BOM, fields split across chunks) is done by `eventsource-parser`; this module adds the
 * byte → text step (a streaming TextDecoder, so a multi-byte UTF-8 character split across
 * network chunks decodes correctly) and turns the callbacks into an async generator.
 */
import { createParser } from "eventsource-parser";

/** One dispatched SSE event. `event` and `id` are absent when the server did not send them. */
export interface SSEEvent {
  event?: string;
  data: string;
  id?: string;
}

/** Upper bound for one buffered line / event (protects against an endless line). */
const MAX_EVENT_CHARS = 16 * 1024 * 1024;

/**
 * Parses an SSE byte stream into events.
 *
 * - Events are yielded as soon as their terminating blank line arrives. An event that is
 *   not terminated when the stream ends is discarded, as the SSE spec requires.
 * - If `signal` aborts, the underlying stream is cancelled and the generator throws the
 *   signal's reason.
 * - Returning early (`break` in `for await`, or `.return()`) cancels the stream too.
 */
export async function* parseSSE(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<SSEEvent, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8");
  const pending: SSEEvent[] = [];
  let parseError: Error | undefined;
  const parser = createParser({
    maxBufferSize: MAX_EVENT_CHARS,
    onEvent: (e) => {
      const ev: SSEEvent = { data: e.data };
      if (e.event !== undefined) ev.event = e.event;
      if (e.id !== undefined) ev.id = e.id;
      pending.push(ev);
    },
    onError: (err) => {
      if (err.type === "max-buffer-size-exceeded") parseError = err;
    },
  });

  let finished = false;
  const onAbort = () => {
    reader.cancel(signal?.reason).catch(() => {});
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    while (true) {
      if (signal?.aborted) throw abortReason(signal);
      const { done, value } = await reader.read();
      if (signal?.aborted) throw abortReason(signal);
      const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
      if (text) parser.feed(text);
      if (parseError) throw parseError;
      // Yield what this chunk completed; the queue is drained before the next read.
      for (let i = 0; i < pending.length; i++) yield pending[i]!;
      pending.length = 0;
      if (done) {
        finished = true;
        return;
      }
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (!finished) reader.cancel().catch(() => {});
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
}

/**
 * Encodes one SSE event: optional `event:` line, one `data:` line per line of `data`
 * (any of LF / CR / CRLF splits a line), then the blank line that dispatches it.
 */
export function encodeSSE(data: string, event?: string): string {
  let out = event === undefined ? "" : `event: ${event.replace(/[\r\n]/g, "")}\n`;
  for (const line of data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}
