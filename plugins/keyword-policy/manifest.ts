import { defineManifest, Type } from "tollgate/plugin";

export default defineManifest({
  name: "keyword-policy",
  version: "1.0.0",
  description: "Refuses prompts with words the tenant forbids",
  phases: ["inspect"],
  defaultEnabled: false,          // off until an admin turns it on
  failurePolicy: "fail-closed",   // a policy plugin that fails must not let traffic through
  timeoutMs: 50,
  isolation: "inline",
  settings: Type.Object(
    { words: Type.Array(Type.String({ minLength: 1 }), { default: [] }) },
    { additionalProperties: false },
  ),
});
