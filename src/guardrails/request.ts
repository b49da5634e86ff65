/**
 * Apply a Redactor to every text of a canonical request (message content and text parts,
 * system prompt, tool results, assistant tool-call arguments) and to a completion's output.
 * Returns new objects: the inputs are never mutated (a cache may hold them).
 */
import type { ChatCompletion, ChatCompletionRequest, ChatMessage } from "../canonical/chat.ts";
import type { Redactor } from "./redact.ts";

/** Total characters of the request's texts (for `max_input_chars`). */
export function inputChars(req: ChatCompletionRequest): number {
  let n = 0;
  for (const m of req.messages) {
    if (typeof m.content === "string") n += m.content.length;
    else if (Array.isArray(m.content)) for (const p of m.content) n += typeof (p as { text?: unknown }).text === "string" ? (p as { text: string }).text.length : 0;
    for (const tc of m.tool_calls ?? []) n += tc.function.arguments.length;
  }
  return n;
}

/** The request with every text scanned and redacted (input direction). */
export function redactRequest(req: ChatCompletionRequest, r: Redactor): ChatCompletionRequest {
  let changed = false;
  const messages = req.messages.map((m): ChatMessage => {
    let out = m;
    if (typeof m.content === "string") {
      const t = r.process(m.content, "input");
      if (t.changed) out = { ...out, content: t.text };
    } else if (Array.isArray(m.content)) {
      let partsChanged = false;
      const parts = m.content.map((p) => {
        const text = (p as { text?: unknown }).text;
        if (p.type !== "text" || typeof text !== "string") return p;
        const t = r.process(text, "input");
        if (!t.changed) return p;
        partsChanged = true;
        return { ...p, text: t.text };
      });
      if (partsChanged) out = { ...out, content: parts as ChatMessage["content"] };
    }
    if (m.tool_calls?.length) {
      let tcChanged = false;
      const calls = m.tool_calls.map((tc) => {
        const t = r.process(tc.function.arguments, "input");
        if (!t.changed) return tc;
        tcChanged = true;
        return { ...tc, function: { ...tc.function, arguments: t.text } };
      });
      if (tcChanged) out = { ...out, tool_calls: calls };
    }
    if (out !== m) changed = true;
    return out;
  });
  return changed ? { ...req, messages } : req;
}

/** A whole completion as the client should get it: scanned, then placeholders restored. */
export function processCompletion(res: ChatCompletion, r: Redactor): ChatCompletion {
  return {
    ...res,
    choices: res.choices.map((c) => ({
      ...c,
      message: {
        ...c.message,
        content: typeof c.message.content === "string" ? r.processOutput(c.message.content) : c.message.content,
        ...(c.message.tool_calls
          ? { tool_calls: c.message.tool_calls.map((tc) => ({ ...tc, function: { ...tc.function, arguments: r.processOutput(tc.function.arguments, true) } })) }
          : {}),
      },
    })),
  };
}
