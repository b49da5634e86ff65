/**
 * A fake Anthropic upstream for tests: a real HTTP server (`Bun.serve`, random port)
 * speaking the Messages API wire format for `POST /v1/messages`: a JSON `message`, or SSE
 * (`event: <type>` + `data: {json}` lines: message_start, content_block_start, ping,
 * content_block_delta, content_block_stop, message_delta, message_stop), and Anthropic's
 * error body `{"type":"error","error":{"type","message"},"request_id"}`.
 *
 * ```ts
 * const fake = startFakeAnthropic({ apiKey: "sk-ant-test" });
 * const provider = anthropicProvider({ id: "anthropic", kind: "anthropic", baseUrl: fake.url, apiKey: "sk-ant-test", models: ["claude-x"] });
 * fake.setBehavior({ kind: "ok", toolUse: { name: "get_weather", input: { city: "Paris" } } });
 * fake.enqueue({ kind: "overloaded" }, { kind: "ok" }); // the next two requests, then the default
 * fake.requests[0]?.body.system; // what the upstream received
 * await fake.close();
 * ```
 */

import { createFakeServer, type FakeServer } from "./fake-server.ts";

/** Anthropic `usage` fields (any subset overrides the fake's computed values). */
export interface FakeUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/** What the fake does with the next Messages request. */
export type FakeAnthropicBehavior =
  /** Answer normally: a JSON message, or SSE when `stream: true`. */
  | {
      kind: "ok";
      /** Answer text (default `"Hello from the fake Anthropic!"`, or none when `toolUse` is set). */
      content?: string;
      /** A tool_use block after the text; its input is streamed as `input_json_delta` fragments. */
      toolUse?: { id?: string; name: string; input: Record<string, unknown>; fragmentSize?: number };
      /** `model` in responses (default: the request's model). */
      model?: string;
      /** Default `tool_use` when `toolUse` is set, else `end_turn`. */
      stopReason?: string;
      usage?: FakeUsage;
      /** Characters per streamed text delta (default 5). */
      chunkSize?: number;
      /** Pause before each SSE event, ms (default 0): a slow stream, for cancellation tests. */
      chunkDelayMs?: number;
      /** Write the SSE body in pieces of this many bytes (boundaries anywhere, UTF-8 included). */
      splitBytes?: number;
    }
  /** Fail with an Anthropic error body (type defaults by status) and optional headers (e.g. retry-after). */
  | { kind: "error"; status: number; type?: string; message?: string; headers?: Record<string, string> }
  /** HTTP 529 `overloaded_error`. */
  | { kind: "overloaded"; headers?: Record<string, string> }
  /** 200 with invalid JSON (non-stream) or a `data:` line that is not JSON (stream). */
  | { kind: "malformed" }
  /** Stream message_start and some text, then close without message_delta / message_stop. */
  | { kind: "truncate"; content?: string }
  /** Stream message_start and some text, then an `error` event (default `overloaded_error`). */
  | { kind: "stream-error"; errorType?: string; message?: string }
  /** Never send response headers (until the client gives up or the server closes). */
  | { kind: "hang" };

/** A request as the fake received it. */
export interface RecordedRequest {
  method: string;
  path: string;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  /** Parsed JSON body (undefined when absent or not JSON). */
  body: any;
}

/** The fake's controls (`requests`, `cancellations`, `setBehavior`, `enqueue`, `waitForCancellation`, `close`: see `FakeServer`). */
export interface FakeAnthropic extends FakeServer<FakeAnthropicBehavior, RecordedRequest> {
  /** Base URL to configure as `baseUrl` (no `/v1`, no trailing slash). */
  readonly url: string;
  /** Clears requests, queue and cancellations; restores `{ kind: "ok" }`. */
  reset(): void;
}

export interface FakeAnthropicOptions {
  behavior?: FakeAnthropicBehavior;
  /** When set, requests without `x-api-key: <apiKey>` get Anthropic's 401. */
  apiKey?: string;
}

const DEFAULT_CONTENT = "Hello from the fake Anthropic!";
const DEFAULT_ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
  413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error",
};

/** Starts a fake Anthropic Messages API on a random local port. */
export function startFakeAnthropic(options: FakeAnthropicOptions = {}): FakeAnthropic {
  return createFakeServer<FakeAnthropicBehavior, RecordedRequest>({
    name: "fake anthropic",
    defaultBehavior: { kind: "ok" },
    behavior: options.behavior,
    sseHeaders: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "request-id": "req_fake0002" },
    record: (req, url, body) => ({ method: req.method, path: url.pathname, headers: Object.fromEntries(req.headers), body }),
    handle(req, { url, body, next, sse, hang }) {
      if (options.apiKey !== undefined && req.headers.get("x-api-key") !== options.apiKey) return errorResponse(401, "authentication_error", "invalid x-api-key");
      if (req.method !== "POST" || url.pathname !== "/v1/messages") return errorResponse(404, "not_found_error", "Not Found");
      if (!req.headers.get("anthropic-version")) return errorResponse(400, "invalid_request_error", "anthropic-version: header is required");
      if (!body) return errorResponse(400, "invalid_request_error", "There was an issue with the request body: invalid JSON");
      if (typeof body.max_tokens !== "number") return errorResponse(400, "invalid_request_error", "max_tokens: Field required");
      if (!Array.isArray(body.messages)) return errorResponse(400, "invalid_request_error", "messages: Field required");

      const behavior = next();
      const model = String(body.model);
      switch (behavior.kind) {
        case "error":
          return errorResponse(behavior.status, behavior.type, behavior.message, behavior.headers);
        case "overloaded":
          return errorResponse(529, "overloaded_error", "Overloaded", behavior.headers);
        case "hang":
          return hang();
        case "malformed":
          return body.stream
            ? sse([ev("message_start", messageStart(model, body, {})), 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,\n\n'])
            : new Response('{"id":"msg_bad","type":"message","content":[', { headers: { "content-type": "application/json" } });
        case "truncate":
        case "stream-error": {
          const text = (behavior.kind === "truncate" ? behavior.content : undefined) ?? DEFAULT_CONTENT;
          const events = [
            ev("message_start", messageStart(model, body, {})),
            ev("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
            ev("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: text.slice(0, 5) } }),
          ];
          if (behavior.kind === "stream-error") {
            const type = behavior.errorType ?? "overloaded_error";
            events.push(ev("error", { type: "error", error: { type, message: behavior.message ?? (type === "overloaded_error" ? "Overloaded" : "Internal server error") } }));
          }
          return sse(events);
        }
        case "ok":
          return body.stream ? sse(streamEvents(model, body, behavior), behavior.chunkDelayMs ?? 0, behavior.splitBytes) : Response.json(messageOk(model, body, behavior), { headers: { "request-id": "req_fake0001" } });
      }
    },
  });
}

function errorResponse(status: number, type?: string, message?: string, headers?: Record<string, string>): Response {
  const error = { type: type ?? DEFAULT_ERROR_TYPES[status] ?? "api_error", message: message ?? `Error ${status}` };
  return Response.json({ type: "error", error, request_id: "req_fake_error" }, { status, headers: { "request-id": "req_fake_error", ...headers } });
}

type OkBehavior = Extract<FakeAnthropicBehavior, { kind: "ok" }>;

function usageFor(body: any, text: string, b: Partial<OkBehavior>) {
  return {
    input_tokens: JSON.stringify(body.messages ?? []).length >> 2,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: Math.max(1, text.length >> 2),
    service_tier: "standard",
    ...b.usage,
  };
}

const answerText = (b: OkBehavior) => b.content ?? (b.toolUse ? "" : DEFAULT_CONTENT);
const toolId = (b: OkBehavior) => b.toolUse?.id ?? "toolu_fake0001";
const stopReason = (b: OkBehavior) => b.stopReason ?? (b.toolUse ? "tool_use" : "end_turn");
const stopSequence = (body: any, reason: string) => (reason === "stop_sequence" ? (body.stop_sequences?.[0] ?? null) : null);

function messageOk(model: string, body: any, b: OkBehavior) {
  const text = answerText(b);
  const content: unknown[] = text ? [{ type: "text", text }] : [];
  if (b.toolUse) content.push({ type: "tool_use", id: toolId(b), name: b.toolUse.name, input: b.toolUse.input });
  const reason = stopReason(b);
  return {
    id: "msg_fake0001",
    type: "message",
    role: "assistant",
    model: b.model ?? model,
    content,
    stop_reason: reason,
    stop_sequence: stopSequence(body, reason),
    usage: usageFor(body, text + JSON.stringify(b.toolUse?.input ?? ""), b),
  };
}

function messageStart(model: string, body: any, b: Partial<OkBehavior>) {
  const usage = { ...usageFor(body, "", b), output_tokens: 1 };
  const message = { id: "msg_fake0002", type: "message", role: "assistant", model: b.model ?? model, content: [], stop_reason: null, stop_sequence: null, usage };
  return { type: "message_start", message };
}

/** One SSE event in Anthropic's framing: `event:` line, `data:` line, blank line. */
function ev(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The SSE events of an `ok` streamed answer. */
function streamEvents(model: string, body: any, b: OkBehavior): string[] {
  const text = answerText(b);
  const size = Math.max(1, b.chunkSize ?? 5);
  const events = [ev("message_start", messageStart(model, body, b))];
  let index = 0;
  if (text) {
    events.push(ev("content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } }));
    events.push(ev("ping", { type: "ping" }));
    for (let i = 0; i < text.length; i += size) {
      events.push(ev("content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text: text.slice(i, i + size) } }));
    }
    events.push(ev("content_block_stop", { type: "content_block_stop", index }));
    index++;
  }
  if (b.toolUse) {
    const json = JSON.stringify(b.toolUse.input);
    const frag = Math.max(1, b.toolUse.fragmentSize ?? 7);
    events.push(ev("content_block_start", { type: "content_block_start", index, content_block: { type: "tool_use", id: toolId(b), name: b.toolUse.name, input: {} } }));
    events.push(ev("content_block_delta", { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: "" } }));
    for (let i = 0; i < json.length; i += frag) {
      events.push(ev("content_block_delta", { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: json.slice(i, i + frag) } }));
    }
    events.push(ev("content_block_stop", { type: "content_block_stop", index }));
  }
  const reason = stopReason(b);
  const final = usageFor(body, text + JSON.stringify(b.toolUse?.input ?? ""), b);
  events.push(ev("message_delta", { type: "message_delta", delta: { stop_reason: reason, stop_sequence: stopSequence(body, reason) }, usage: { output_tokens: final.output_tokens } }));
  events.push(ev("message_stop", { type: "message_stop" }));
  return events;
}
