import { defineManifest, Type } from "tollgate/plugin";

/** Refuse a request whose worst-case cost (prompt + max output, at the target's price) is over a per-tenant cap. */
export default defineManifest({
  name: "max-cost",
  version: "1.0.0",
  description: "Refuses requests whose estimated worst-case cost is over a per-tenant cap (USD)",
  phases: ["route"],
  defaultEnabled: false,
  failurePolicy: "fail-open",
  timeoutMs: 50,
  isolation: "inline",
  settings: Type.Object(
    {
      max_usd_per_request: Type.Number({ exclusiveMinimum: 0, default: 1, description: "Refuse above this estimate" }),
      assumed_output_tokens: Type.Integer({ minimum: 1, default: 1024, description: "Output tokens assumed when the request sets no max_tokens" }),
      refuse_unpriced: Type.Boolean({ default: false, description: "Refuse when the target model has no price" }),
    },
    { additionalProperties: false },
  ),
});
