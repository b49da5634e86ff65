/**
 * Canonical answer → Response object. Pure: no I/O.
 *
 * - `responseShell(req, …)`: the Response fields that echo the request (status `in_progress`).
 * - `fromCanonical(completion, shell)`: a canonical completion as a finished Response.
 * - `finish(shell, output, finishReason, usage)`: status and `incomplete_details` from the
 *   canonical finish reason (`length` → incomplete `max_output_tokens`, `content_filter` →
 *   incomplete `content_filter`).
 */
import type { ChatCompletion, FinishReason, Usage } from "./chat.ts";
import { newId, type ResponseItem, type ResponseObject, type ResponsesRequest, toResponsesUsage } from "./responses.ts";

export interface ShellOptions {
  id: string;
  createdAt: number;
  previousResponseId: string | null;
  store: boolean;
}

export function responseShell(req: ResponsesRequest, o: ShellOptions): ResponseObject {
  return {
    id: o.id,
    object: "response",
    created_at: o.createdAt,
    status: "in_progress",
    error: null,
    incomplete_details: null,
    instructions: req.instructions ?? null,
    max_output_tokens: req.max_output_tokens ?? null,
    model: req.model,
    output: [],
    parallel_tool_calls: req.parallel_tool_calls ?? true,
    previous_response_id: o.previousResponseId,
    reasoning: { effort: req.reasoning?.effort ?? null, summary: null },
    store: o.store,
    temperature: req.temperature ?? 1,
    text: { format: (req.text?.format as Record<string, unknown> | undefined) ?? { type: "text" } },
    tool_choice: req.tool_choice ?? "auto",
    tools: (req.tools as unknown[] | undefined) ?? [],
    top_p: req.top_p ?? 1,
    truncation: "disabled",
    ...(req.user !== undefined ? { user: req.user } : {}),
    metadata: req.metadata ?? {},
  };
}

export function messageItem(id: string, text: string, refusal: string, status: "in_progress" | "completed"): ResponseItem {
  const content: Record<string, unknown>[] = [];
  if (status === "in_progress") return { type: "message", id, status, role: "assistant", content }; // parts follow as events
  if (text || !refusal) content.push({ type: "output_text", text, annotations: [], logprobs: [] });
  if (refusal) content.push({ type: "refusal", refusal });
  return { type: "message", id, status, role: "assistant", content };
}

export function functionCallItem(id: string, callId: string, name: string, args: string, status: "in_progress" | "completed"): ResponseItem {
  return { type: "function_call", id, call_id: callId, name, arguments: args, status };
}

/** The finished Response: status from the finish reason, usage in Responses form. */
export function finish(shell: ResponseObject, output: ResponseItem[], finishReason: FinishReason | null, usage: Usage | null | undefined): ResponseObject {
  const incomplete = finishReason === "length" ? "max_output_tokens" : finishReason === "content_filter" ? "content_filter" : null;
  return {
    ...shell,
    status: incomplete ? "incomplete" : "completed",
    incomplete_details: incomplete ? { reason: incomplete } : null,
    output,
    usage: toResponsesUsage(usage),
  };
}

/** A canonical completion as a Response (choice 0). */
export function fromCanonical(completion: ChatCompletion, shell: ResponseObject): ResponseObject {
  const choice = completion.choices[0];
  const output: ResponseItem[] = [];
  const text = choice?.message.content ?? "";
  const refusal = choice?.message.refusal ?? "";
  const calls = choice?.message.tool_calls ?? [];
  if (text || refusal || calls.length === 0) output.push(messageItem(newId("msg"), text, refusal, "completed"));
  for (const c of calls) output.push(functionCallItem(newId("fc"), c.id, c.function.name, c.function.arguments, "completed"));
  return finish(shell, output, choice?.finish_reason ?? null, completion.usage);
}
