/** The semantic tier's pure parts: what is embedded, what must match exactly, the exact cosine index. */
import { describe, expect, test } from "bun:test";
import type { ChatCompletionRequest } from "../../src/canonical/chat.ts";
import { normalized, semanticInput, similarityBucket, VectorIndex } from "../../src/cache/semantic.ts";

const req = (messages: ChatCompletionRequest["messages"], extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({ model: "m", temperature: 0, messages, ...extra });
const input = (request: ChatCompletionRequest, scope = "tenant:t") => semanticInput({ scope, operation: "chat", request, route: { model: "m" } }, 4);

describe("semanticInput", () => {
  test("the wording is embedded; the scope ignores it but keeps the system prompt, tenant and parameters", () => {
    const a = input(req([{ role: "system", content: "Be terse." }, { role: "user", content: "What's your refund policy?" }]))!;
    const b = input(req([{ role: "system", content: "Be terse." }, { role: "user", content: "How do I get a refund?" }]))!;
    expect(a.text).toBe("user: What's your refund policy?");
    expect(a.scope).toBe(b.scope);
    const different = [
      input(req([{ role: "system", content: "Be formal." }, { role: "user", content: "x" }])),
      input(req([{ role: "system", content: "Be terse." }, { role: "user", content: "x" }]), "tenant:u"),
      input(req([{ role: "system", content: "Be terse." }, { role: "user", content: "x" }], { model: "other" })),
      input(req([{ role: "system", content: "Be terse." }, { role: "user", content: "x" }], { top_p: 0.5 })),
      input(req([{ role: "system", content: "Be terse." }, { role: "user", content: "x" }], { tools: [{ type: "function", function: { name: "f" } }] })),
      input(req([{ role: "system", content: "Be terse." }, { role: "user", content: "x" }], { response_format: { type: "json_object" } })),
      input(req([{ role: "system", content: "Be terse." }, { role: "assistant", content: "x" }])),
    ];
    for (const d of different) expect(d!.scope).not.toBe(a.scope);
  });

  test("not applicable: too many messages, tool turns, non-text parts, embeddings", () => {
    const five = Array.from({ length: 5 }, (_, i) => ({ role: (i % 2 ? "assistant" : "user") as "user" | "assistant", content: `m${i}` }));
    expect(input(req(five))).toBeUndefined();
    expect(input(req(five.slice(0, 4)))?.text.split("\n").length).toBe(4);
    expect(input(req([{ role: "user", content: "q" }, { role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] }, { role: "tool", tool_call_id: "c", content: "r" }]))).toBeUndefined();
    expect(input(req([{ role: "user", content: [{ type: "image_url", image_url: { url: "data:," } }] }]))).toBeUndefined();
    expect(semanticInput({ scope: "tenant:t", operation: "embeddings", request: req([{ role: "user", content: "x" }]), route: null }, 4)).toBeUndefined();
  });
});

describe("VectorIndex (exact cosine)", () => {
  test("finds the most similar live entry, grows, removes, prunes expired entries", () => {
    const idx = new VectorIndex(3, 1);
    idx.add("x", normalized([1, 0, 0])!, 1000);
    idx.add("y", normalized([0, 1, 0])!, 1000);
    idx.add("z", normalized([1, 1, 0])!, 10);
    expect(idx.size).toBe(3);
    const q = normalized([1, 0.1, 0])!;
    expect(idx.nearest(q, 0)!.id).toBe("x");
    expect(idx.nearest(q, 0)!.similarity).toBeCloseTo(1 / Math.sqrt(1.01), 5);
    expect(idx.nearest(normalized([1, 1, 0.01])!, 0)!.id).toBe("z");
    expect(idx.nearest(normalized([1, 1, 0.01])!, 20)!.id).not.toBe("z"); // z expired at 10
    expect(idx.prune(20)).toEqual(["z"]);
    idx.remove("x");
    expect(idx.nearest(q, 0)!.id).toBe("y");
    expect(new VectorIndex(3).nearest(q, 0)).toBeUndefined();
    expect(normalized([0, 0, 0])).toBeUndefined();
  });

  test("similarity buckets", () => {
    expect([similarityBucket(undefined), similarityBucket(0.999), similarityBucket(0.951), similarityBucket(0.5)]).toEqual(["none", "ge_0.99", "ge_0.95", "lt_0.80"]);
    // The default threshold (0.97) has its own edge: hits just over it are told from those just under it.
    expect([0.985, 0.9799, 0.975, 0.97, 0.9699, 0.95].map(similarityBucket)).toEqual(["ge_0.98", "ge_0.97", "ge_0.97", "ge_0.97", "ge_0.95", "ge_0.95"]);
  });
});
