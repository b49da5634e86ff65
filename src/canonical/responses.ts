/**
 * The OpenAI Responses API as a client wire format (`POST /v1/responses`), beside chat
 * completions and Anthropic messages. The pipeline never sees this shape: the request is
 * translated to the canonical chat request at the edge (responses-request.ts) and the
 * canonical answer back to a Response object or Responses stream events (responses-output.ts,
 * responses-stream.ts).
 *
 * The schema checks the envelope only (`model`, `input` as text or items, the known scalar
 * fields); items, tools and formats are checked by the translation, which answers 400 with
 * the exact `param` (e.g. `input[2].content[0].type`) for what it cannot carry.
 */
import { Type as T, type Static } from "@sinclair/typebox";
import type { Usage } from "./chat.ts";

const open = { additionalProperties: true };
const Item = T.Object({ type: T.Optional(T.String()), role: T.Optional(T.String()) }, open);

export const ResponsesRequest = T.Object(
  {
    model: T.String({ minLength: 1, description: "A model id or alias routed by the gateway, e.g. `echo`" }),
    input: T.Optional(T.Union([T.String(), T.Array(Item)], { description: "Text, or a list of input items (messages, `function_call`, `function_call_output`)" })),
    instructions: T.Optional(T.Union([T.String(), T.Null()])),
    tools: T.Optional(T.Array(T.Object({ type: T.String() }, open))),
    tool_choice: T.Optional(T.Unknown()),
    parallel_tool_calls: T.Optional(T.Union([T.Boolean(), T.Null()])),
    text: T.Optional(T.Object({ format: T.Optional(T.Object({ type: T.String() }, open)) }, open)),
    reasoning: T.Optional(T.Union([T.Object({ effort: T.Optional(T.Union([T.String(), T.Null()])) }, open), T.Null()])),
    max_output_tokens: T.Optional(T.Union([T.Integer({ minimum: 1 }), T.Null()])),
    temperature: T.Optional(T.Union([T.Number({ minimum: 0, maximum: 2 }), T.Null()])),
    top_p: T.Optional(T.Union([T.Number({ minimum: 0, maximum: 1 }), T.Null()])),
    metadata: T.Optional(T.Union([T.Record(T.String(), T.String()), T.Null()])),
    user: T.Optional(T.String()),
    store: T.Optional(T.Union([T.Boolean(), T.Null()])),
    previous_response_id: T.Optional(T.Union([T.String({ minLength: 1 }), T.Null()])),
    stream: T.Optional(T.Union([T.Boolean(), T.Null()])),
  },
  // Other Responses fields pass through to providers that speak Responses; any other target answers 400 with `param`.
  open,
);
export type ResponsesRequest = Static<typeof ResponsesRequest>;

/** A stored / returned item. Ids are the gateway's (`msg_…`, `fc_…`). */
export type ResponseItem = Record<string, unknown> & { type: string; id?: string };

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export type ResponseStatus = "completed" | "failed" | "in_progress" | "incomplete";

/** The Response object (`object: "response"`), as returned and stored. */
export interface ResponseObject {
  id: string;
  object: "response";
  created_at: number;
  status: ResponseStatus;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: "max_output_tokens" | "content_filter" } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  model: string;
  output: ResponseItem[];
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  reasoning: { effort: string | null; summary: null };
  store: boolean;
  temperature: number | null;
  text: { format: Record<string, unknown> };
  tool_choice: unknown;
  tools: unknown[];
  top_p: number | null;
  truncation: "disabled";
  /** Absent until the response is finished (the published schema has no null here). */
  usage?: ResponsesUsage;
  user?: string;
  metadata: Record<string, string>;
}

/** Canonical usage → Responses usage (cached and reasoning tokens always present). */
export function toResponsesUsage(u: Usage | null | undefined): ResponsesUsage {
  const input = u?.prompt_tokens ?? 0;
  const output = u?.completion_tokens ?? 0;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: u?.prompt_tokens_details?.cached_tokens ?? 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: u?.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: u?.total_tokens ?? input + output,
  };
}

/** Responses usage (upstream) → canonical usage. */
export function fromResponsesUsage(u: Record<string, unknown> | null | undefined): Usage | undefined {
  if (!u || typeof u.input_tokens !== "number" || typeof u.output_tokens !== "number") return undefined;
  const cached = (u.input_tokens_details as { cached_tokens?: unknown } | undefined)?.cached_tokens;
  const reasoning = (u.output_tokens_details as { reasoning_tokens?: unknown } | undefined)?.reasoning_tokens;
  const usage: Usage = {
    prompt_tokens: u.input_tokens,
    completion_tokens: u.output_tokens,
    total_tokens: typeof u.total_tokens === "number" ? u.total_tokens : u.input_tokens + u.output_tokens,
  };
  if (typeof cached === "number") usage.prompt_tokens_details = { cached_tokens: cached };
  if (typeof reasoning === "number") usage.completion_tokens_details = { reasoning_tokens: reasoning };
  return usage;
}

/** Gateway ids: `resp_…`, `msg_…`, `fc_…` (48 hex chars, 192 random bits: unguessable). */
export function newId(prefix: "resp" | "msg" | "fc"): string {
  return `${prefix}_${Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("hex")}`;
}
