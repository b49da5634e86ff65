/**
 * Example operator plugin: refuses requests whose last user message contains a blocked word,
 * with a stable error code, and records the fact. Copy it to `plugins/` to enable it.
 */
import { contentText, definePipelinePlugin, GatewayError } from "tollgate/pipeline";

const BLOCKED = ["forbidden-word"];

export default definePipelinePlugin({
  name: "block-words",
  version: "1.0.0",
  phases: {
    inspect(ctx) {
      const last = [...ctx.request.messages].reverse().find((m) => m.role === "user");
      const text = contentText(last?.content ?? null).toLowerCase();
      const hit = BLOCKED.find((w) => text.includes(w));
      if (!hit) return;
      ctx.emit({ type: "guardrail.blocked", payload: { plugin: "block-words", rule: hit } });
      throw new GatewayError({ status: 400, code: "content_blocked", message: "The request contains a blocked word" });
    },
  },
});
