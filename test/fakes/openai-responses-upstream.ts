/**
 * A fake OpenAI upstream speaking the Responses API (`POST /v1/responses`): a real HTTP
 * server (`Bun.serve`, random port) answering a JSON `response`, or the Responses SSE event
 * sequence (`event: <type>` + `data: {json}` with `sequence_number`), written in pieces of
 * `splitBytes` bytes (default 7) so event, line and UTF-8 boundaries fall anywhere.
 *
 * It answers like echo: the text of the last user message. When the last input item is a
 * `function_call_output` it answers `result: <output>`; when the behavior names a `toolCall`
 * (and the request has tools) it calls that function instead.
 *
 * ```ts
 * const fake = startFakeOpenAIResponses();
 * fake.setBehavior({ kind: "ok", toolCall: { name: "get_weather", arguments: '{"city":"Paris"}' } });
 * fake.requests[0]?.body; // the Responses body the gateway sent
 * ```
 */
import { createFakeServer, type FakeServer } from "./fake-server.ts";

export type FakeResponsesBehavior =
  | { kind: "ok"; toolCall?: { name: string; arguments: string }; usage?: { cached?: number; reasoning?: number }; splitBytes?: number }
  | { kind: "error"; status: number; message?: string }
  /** Stream `response.created` and a first delta, then `response.failed` (a mid-stream failure). */
  | { kind: "stream-fail" };

export interface RecordedResponsesRequest {
  path: string;
  headers: Record<string, string>;
  body: any;
}

export type FakeOpenAIResponses = FakeServer<FakeResponsesBehavior, RecordedResponsesRequest>;

const encoder = new TextEncoder();

export function startFakeOpenAIResponses(): FakeOpenAIResponses {
  return createFakeServer<FakeResponsesBehavior, RecordedResponsesRequest>({
    name: "fake OpenAI Responses upstream",
    basePath: "/v1",
    defaultBehavior: { kind: "ok" },
    sseHeaders: { "content-type": "text/event-stream" },
    record: (req, url, body) => ({ path: url.pathname, headers: Object.fromEntries(req.headers), body }),
    handle(_req, { url, body, next }) {
      if (url.pathname !== "/v1/responses") return Response.json({ error: { message: "not found", type: "invalid_request_error" } }, { status: 404 });
      const b = next();
      if (b.kind === "error") return Response.json({ error: { message: b.message ?? "upstream error", type: "server_error", code: null, param: null } }, { status: b.status });
      if (b.kind === "stream-fail") return midStreamFailure(body);
      const answer = answerFor(body, b);
      return body.stream ? streamOf(answer, b.splitBytes ?? 7) : Response.json(answer.response);
    },
  });
}

interface Answer {
  response: Record<string, any>;
  text: string | null;
  call: { id: string; call_id: string; name: string; arguments: string } | null;
}

function lastUserText(input: any): string {
  if (typeof input === "string") return input;
  for (let i = input.length - 1; i >= 0; i--) {
    const item = input[i];
    if ((item.type === "message" || item.type === undefined) && item.role === "user") {
      return typeof item.content === "string" ? item.content : item.content.filter((p: any) => p.type === "input_text").map((p: any) => p.text).join("");
    }
  }
  return "";
}

function answerFor(body: any, b: Extract<FakeResponsesBehavior, { kind: "ok" }>): Answer {
  const last = Array.isArray(body.input) ? body.input.at(-1) : undefined;
  let text: string | null = lastUserText(body.input);
  let call: Answer["call"] = null;
  if (last?.type === "function_call_output") text = `result: ${last.output}`;
  else if (b.toolCall && body.tools?.length) {
    text = null;
    call = { id: "fc_up1", call_id: "call_up1", name: b.toolCall.name, arguments: b.toolCall.arguments };
  }
  const inputTokens = JSON.stringify(body.input).length;
  const outputTokens = (text ?? call?.arguments ?? "").length;
  const output: any[] = [];
  if (text !== null) output.push({ type: "message", id: "msg_up1", status: "completed", role: "assistant", content: [{ type: "output_text", text, annotations: [], logprobs: [] }] });
  if (call) output.push({ type: "function_call", ...call, status: "completed" });
  const response = {
    id: "resp_up1",
    object: "response",
    created_at: 1_700_000_000,
    status: "completed",
    error: null,
    incomplete_details: null,
    model: body.model,
    output,
    usage: {
      input_tokens: inputTokens,
      input_tokens_details: { cached_tokens: b.usage?.cached ?? 0 },
      output_tokens: outputTokens,
      output_tokens_details: { reasoning_tokens: b.usage?.reasoning ?? 0 },
      total_tokens: inputTokens + outputTokens,
    },
  };
  return { response, text, call };
}

function streamOf(a: Answer, splitBytes: number): Response {
  let seq = 0;
  const ev = (type: string, fields: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...fields, sequence_number: seq++ })}\n\n`;
  const pending = { ...a.response, status: "in_progress", output: [], usage: null };
  const events = [ev("response.created", { response: pending }), ev("response.in_progress", { response: pending })];
  if (a.text !== null) {
    const item = { type: "message", id: "msg_up1", status: "in_progress", role: "assistant", content: [] };
    events.push(ev("response.output_item.added", { output_index: 0, item }));
    events.push(ev("response.content_part.added", { item_id: "msg_up1", output_index: 0, content_index: 0, part: { type: "output_text", text: "", annotations: [] } }));
    const chars = [...a.text];
    for (let i = 0; i < chars.length; i += 3) events.push(ev("response.output_text.delta", { item_id: "msg_up1", output_index: 0, content_index: 0, delta: chars.slice(i, i + 3).join(""), logprobs: [] }));
    events.push(ev("response.output_text.done", { item_id: "msg_up1", output_index: 0, content_index: 0, text: a.text, logprobs: [] }));
    events.push(ev("response.output_item.done", { output_index: 0, item: a.response.output[0] }));
  }
  if (a.call) {
    const index = a.text !== null ? 1 : 0;
    events.push(ev("response.output_item.added", { output_index: index, item: { type: "function_call", ...a.call, arguments: "", status: "in_progress" } }));
    for (let i = 0; i < a.call.arguments.length; i += 4) events.push(ev("response.function_call_arguments.delta", { item_id: a.call.id, output_index: index, delta: a.call.arguments.slice(i, i + 4) }));
    events.push(ev("response.function_call_arguments.done", { item_id: a.call.id, output_index: index, arguments: a.call.arguments }));
    events.push(ev("response.output_item.done", { output_index: index, item: a.response.output[index] }));
  }
  events.push(ev("response.completed", { response: a.response }));
  const bytes = encoder.encode(events.join(""));
  let at = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + splitBytes));
      at += splitBytes;
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
}

function midStreamFailure(body: any): Response {
  const base = { id: "resp_up2", object: "response", created_at: 1_700_000_000, model: body.model, output: [], error: null, incomplete_details: null };
  const events = [
    `event: response.created\ndata: ${JSON.stringify({ type: "response.created", sequence_number: 0, response: { ...base, status: "in_progress" } })}\n\n`,
    `event: response.output_text.delta\ndata: ${JSON.stringify({ type: "response.output_text.delta", sequence_number: 1, item_id: "msg_up2", output_index: 0, content_index: 0, delta: "partial", logprobs: [] })}\n\n`,
    `event: response.failed\ndata: ${JSON.stringify({ type: "response.failed", sequence_number: 2, response: { ...base, status: "failed", error: { code: "server_error", message: "model crashed" } } })}\n\n`,
  ];
  return new Response(events.join(""), { headers: { "content-type": "text/event-stream" } });
}
