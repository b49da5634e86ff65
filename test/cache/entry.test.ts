/** The entry codec (sealing), stream collect / replay, the plan (policy, Cache-Control) — pure — and sealing end to end. */
import { describe, expect, test } from "bun:test";
import type { ChatCompletion } from "../../src/canonical/chat.ts";
import { decodeEntry, encodeEntry, pieces, replayChunks, StreamCollector, type CacheEntry } from "../../src/cache/entry.ts";
import { fresh, planRequest } from "../../src/cache/plan.ts";
import { effectivePolicy, parseCacheControl } from "../../src/cache/policy.ts";
import { deriveKey, encryptSecret } from "../../src/config/secrets.ts";
import { emptySnapshot } from "../../src/config/snapshot.ts";
import { post, startTestGateway, waitFor } from "../helpers/gateway.ts";

const completion: ChatCompletion = {
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1_700_000_000,
  model: "m",
  choices: [{ index: 0, message: { role: "assistant", content: "A secret answer that is long enough for pieces 🦊🦊", tool_calls: [{ id: "call_1", type: "function", function: { name: "lookup", arguments: '{"city":"Paris","days":3}' } }] }, finish_reason: "tool_calls" }],
  usage: { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 },
};
const entry: CacheEntry = { v: 1, storedAt: 1, provider: "p", model: "m", answer: { kind: "response", response: completion } };

describe("entry codec", () => {
  test("plain round trip; sealed text holds no clear content and needs the key", () => {
    expect(decodeEntry(encodeEntry(entry))).toEqual(entry);
    const key = deriveKey("a-master-key-for-tests-only");
    const sealed = encodeEntry(entry, key);
    expect(sealed.startsWith("s2:")).toBe(true);
    expect(sealed).not.toContain("secret answer");
    expect(decodeEntry(sealed, key)).toEqual(entry);
    expect(decodeEntry(sealed)).toBeUndefined();
    expect(decodeEntry(sealed, deriveKey("another-master-key-entirely"))).toBeUndefined();
    expect(decodeEntry("garbage")).toBeUndefined();
  });

  test("replay is in pieces and collects back to the same completion (tool calls, usage)", () => {
    const chunks = [...replayChunks(completion)];
    expect(chunks.length).toBeGreaterThan(5);
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage).toEqual(completion.usage!);
    const c = new StreamCollector();
    for (const ch of chunks) c.add(ch);
    expect(c.result()).toEqual(completion);
    expect(pieces("🦊".repeat(20), 16).map((p) => Array.from(p).length)).toEqual([16, 4]); // never splits a surrogate pair
  });
});

describe("plan", () => {
  const request = { model: "echo", messages: [{ role: "user" as const, content: "hi" }] };
  const cfg = emptySnapshot();
  test("bypass reasons, and policies merge global ← tenant field by field", () => {
    expect(planRequest({ config: cfg, tenant: "t", operation: "chat", request }).bypass).toBe("not_deterministic");
    expect(planRequest({ config: cfg, tenant: "t", operation: "chat", request: { ...request, seed: 1 } }).lookup).toBe(true);
    expect(planRequest({ config: cfg, tenant: "t", operation: "embeddings", request }).lookup).toBe(true);
    const withPolicies = { ...cfg, cache: { global: { mode: "all" as const, ttl_seconds: 60 }, tenants: { t: { ttl_seconds: 0 } } } };
    expect(planRequest({ config: withPolicies, tenant: "u", operation: "chat", request }).lookup).toBe(true);
    expect(planRequest({ config: withPolicies, tenant: "t", operation: "chat", request }).bypass).toBe("ttl_zero");
    expect(effectivePolicy(withPolicies.cache, "u")).toEqual({ mode: "all", ttlSeconds: 60, scope: "tenant", maxEntryBytes: 1048576 });
    const nc = planRequest({ config: withPolicies, tenant: "u", operation: "chat", request, cacheControl: "no-cache" });
    expect([nc.lookup, nc.store, nc.bypass]).toEqual([false, true, "no_cache"]);
    const ns = planRequest({ config: withPolicies, tenant: "u", operation: "chat", request, cacheControl: "no-store" });
    expect([ns.lookup, ns.store, ns.hash]).toEqual([false, false, undefined]);
  });

  test("Cache-Control parsing and max-age freshness", () => {
    expect(parseCacheControl('public, Max-Age="30", no-cache')).toEqual({ noStore: false, noCache: true, maxAgeSeconds: 30 });
    expect(parseCacheControl("max-age=abc")).toEqual({ noStore: false, noCache: false });
    expect(fresh(1000, 31_000, { noStore: false, noCache: false, maxAgeSeconds: 30 })).toBe(true);
    expect(fresh(1000, 31_001, { noStore: false, noCache: false, maxAgeSeconds: 30 })).toBe(false);
  });
});

describe("sealing is bound to the scope (issue 22)", () => {
  const key = deriveKey("a-master-key-for-the-scope-test");
  test("an entry sealed for one scope does not open under another; with a master key an unsealed entry is a miss", () => {
    const sealed = encodeEntry(entry, key, "acme|tenant:acme");
    expect(decodeEntry(sealed, key, "acme|tenant:acme")).toEqual(entry);
    expect(decodeEntry(sealed, key, "globex|tenant:globex")).toBeUndefined();
    expect(decodeEntry(sealed, key, "acme|key:k2")).toBeUndefined();
    expect(decodeEntry(encodeEntry(entry), key, "acme|tenant:acme")).toBeUndefined(); // planted in clear
    expect(decodeEntry(`s1:${encryptSecret(JSON.stringify(entry), key)}`, key, "acme|tenant:acme")).toBeUndefined(); // unbound, from before
  });
});

describe("sealing end to end", () => {
  test("with TOLLGATE_MASTER_KEY the stored entry is sealed and still answers hits", async () => {
    const gw = await startTestGateway({ TOLLGATE_MASTER_KEY: "a-master-key-for-tests-only" });
    try {
      const q = `sealed ${crypto.randomUUID()}`;
      const ask = () => post(`${gw.url}/v1/chat/completions`, { model: "echo", temperature: 0, messages: [{ role: "user", content: q }] });
      const miss = await ask();
      const hash = miss.headers.get("x-tollgate-cache-key")!;
      const raw = await waitFor(() => gw.cache.get("default", hash), 3000, "the entry");
      expect(raw.startsWith("s2:")).toBe(true);
      // Bound to its scope: the same sealed text under another tenant's scope does not open.
      const key = deriveKey("a-master-key-for-tests-only");
      expect(decodeEntry(raw, key, "default|tenant:default")).toBeDefined();
      expect(decodeEntry(raw, key, "other|tenant:other")).toBeUndefined();
      expect(raw).not.toContain(q);
      expect((await ask()).headers.get("x-tollgate-cache")).toBe("hit");
    } finally {
      await gw.dispose();
    }
  });
});
