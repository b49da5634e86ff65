import { definePlugin, refuse } from "tollgate/plugin";

export default definePlugin<{ words: string[] }>({
  hooks: {
    inspect(ctx) {
      const text = ctx.request.messages.map((m) => (typeof m.content === "string" ? m.content : "")).join("\n").toLowerCase();
      const hit = ctx.settings.words.find((w) => text.includes(w.toLowerCase()));
      if (hit) {
        ctx.emit({ type: "blocked", payload: { rule: "keyword" } }); // recorded as plugin.keyword-policy.blocked
        throw refuse(400, "content_blocked", "The request contains a word this tenant does not allow");
      }
    },
  },
});
