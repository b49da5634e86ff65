/**
 * The machinery the fake upstreams (`openai-upstream.ts`, `anthropic-upstream.ts`,
 * `gemini-upstream.ts`) share: a real HTTP server (`Bun.serve`, random local port), the
 * behavior queue (`setBehavior` / `enqueue`, one behavior per request), the recorded
 * requests, SSE responses that count the client's cancellations, hanging responses released
 * on close, `waitForCancellation`, `reset` and `close`. Each fake only speaks its wire format.
 *
 * ```ts
 * const server = createFakeServer<MyBehavior, MyRecordedRequest>({
 *   name: "fake thing",
 *   basePath: "/v1",
 *   defaultBehavior: { kind: "ok" },
 *   sseHeaders: { "content-type": "text/event-stream" },
 *   record: (req, url, body) => ({ method: req.method, path: url.pathname, body }),
 *   handle(req, { body, next, sse, hang }) {
 *     const behavior = next(); // after the checks that do not consume a behavior
 *     return behavior.kind === "hang" ? hang() : sse([`data: ${JSON.stringify(body)}\n\n`]);
 *   },
 * });
 * ```
 */

/** The API every fake upstream offers (each fake documents it in its own interface). */
export interface FakeServer<B, R> {
  /** `http://127.0.0.1:<port>` followed by the `basePath`. */
  readonly url: string;
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: R[];
  /** How many streamed responses the client cancelled before the fake finished them. */
  readonly cancellations: number;
  /** Sets the default behavior for all following requests. */
  setBehavior(behavior: B): void;
  /** Queues one-shot behaviors, used (in order) before the default. */
  enqueue(...behaviors: B[]): void;
  /** Resolves when `cancellations` reaches `count` (default: one more than now); rejects after `timeoutMs`. */
  waitForCancellation(count?: number, timeoutMs?: number): Promise<void>;
  /** Clears recorded requests, the queue and the cancellation count; restores `defaultBehavior`. */
  reset(): void;
  /** Stops the server, releasing hanging responses and closing open connections. */
  close(): Promise<void>;
}

/** What a fake's `handle` gets besides the request. */
export interface FakeRequestTools<B> {
  url: URL;
  /** Parsed JSON body (undefined when absent or not JSON). */
  body: any;
  /** The behavior for this request: the next queued one, else the default. Call it at most once. */
  next(): B;
  /**
   * An SSE response (with the fake's `sseHeaders`) writing `events` in order, pausing `delayMs`
   * before each; with `splitBytes`, the whole body in pieces of that many bytes instead (event,
   * line and UTF-8 boundaries fall anywhere).
   */
  sse(events: string[], delayMs?: number, splitBytes?: number): Response;
  /** Never sends response headers: answers 503 once the client aborts or the server closes. */
  hang(): Promise<Response>;
}

export interface FakeServerOptions<B, R> {
  /** Names the fake in error messages, e.g. `"fake upstream"`. */
  name: string;
  /** Appended to `http://127.0.0.1:<port>` to make `url` (default `""`). */
  basePath?: string;
  /** The behavior `reset()` restores; also the first one unless `behavior` is set. */
  defaultBehavior: B;
  /** The first default behavior (the fake's `behavior` option). */
  behavior?: B;
  /** Headers of the responses `sse` makes. */
  sseHeaders: Record<string, string>;
  /** What the fake records of a request (before `handle` sees it). */
  record(req: Request, url: URL, body: any): R;
  /** Answers one request in the fake's wire format. */
  handle(req: Request, tools: FakeRequestTools<B>): Response | Promise<Response>;
}

const encoder = new TextEncoder();

/** Starts a fake upstream on a random local port. */
export function createFakeServer<B, R>(options: FakeServerOptions<B, R>): FakeServer<B, R> {
  let defaultBehavior = options.behavior ?? options.defaultBehavior;
  const queue: B[] = [];
  const requests: R[] = [];
  let cancellations = 0;
  const pending = new Set<() => void>(); // hanging requests, released on close
  const onCancel = () => void cancellations++;
  const sse = (events: string[], delayMs = 0, splitBytes?: number) => sseStream(events, { headers: options.sseHeaders, onCancel, delayMs, ...(splitBytes ? { splitBytes } : {}) });

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const body = parseJsonOrUndefined(await req.text());
      requests.push(options.record(req, url, body));
      const hang = () =>
        new Promise<Response>((resolve) => {
          const release = () => resolve(new Response(null, { status: 503 }));
          pending.add(release);
          req.signal.addEventListener("abort", release, { once: true });
        });
      return options.handle(req, { url, body, next: () => queue.shift() ?? defaultBehavior, sse, hang });
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}${options.basePath ?? ""}`,
    port: server.port!,
    requests,
    get cancellations() {
      return cancellations;
    },
    setBehavior(behavior) {
      defaultBehavior = behavior;
    },
    enqueue(...behaviors) {
      queue.push(...behaviors);
    },
    async waitForCancellation(count = cancellations + 1, timeoutMs = 2000) {
      const deadline = Date.now() + timeoutMs;
      while (cancellations < count) {
        if (Date.now() > deadline) throw new Error(`${options.name}: no cancellation within ${timeoutMs} ms (seen ${cancellations}, want ${count})`);
        await Bun.sleep(5);
      }
    },
    reset() {
      requests.length = 0;
      queue.length = 0;
      cancellations = 0;
      defaultBehavior = options.defaultBehavior;
    },
    async close() {
      for (const release of pending) release();
      pending.clear();
      await server.stop(true);
    },
  };
}

/**
 * An SSE response writing `events` in order (pausing `delayMs` before each); `onCancel` runs
 * when the client cancels the body before the last event.
 */
export function sseStream(events: string[], { headers, onCancel, delayMs = 0, splitBytes }: { headers: Record<string, string>; onCancel: () => void; delayMs?: number; splitBytes?: number }): Response {
  if (splitBytes) {
    const bytes = encoder.encode(events.join(""));
    const pieces: Uint8Array[] = [];
    for (let at = 0; at < bytes.length; at += splitBytes) pieces.push(bytes.slice(at, at + splitBytes));
    let i = 0;
    return new Response(new ReadableStream<Uint8Array>({ pull: (c) => (i < pieces.length ? c.enqueue(pieces[i++]!) : c.close()), cancel: onCancel }), { headers });
  }
  let next = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (next >= events.length) return controller.close();
      if (delayMs > 0) await Bun.sleep(delayMs);
      controller.enqueue(encoder.encode(events[next++]!));
    },
    cancel() {
      onCancel();
    },
  });
  return new Response(stream, { headers });
}

function parseJsonOrUndefined(text: string): any {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}
