/**
 * The semantic tier with the built-in local embedder (all-MiniLM-L6-v2 through ONNX Runtime in a
 * worker) and NO embeddings provider configured: turning the tier on is enough. The echo
 * provider answers with the question it got, so a semantic hit visibly answers with the EARLIER
 * wording. A gateway without the model keeps serving: the embedder reports `degraded`, lookups miss.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { post, startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";
import { embedderModelOrFail } from "../helpers/embedder.ts";
import { DEFAULT_THRESHOLD } from "../../src/cache/policy.ts";

const ADMIN = "semantic-local-admin-key-0123456789";
const modelDir = embedderModelOrFail("semantic tier with the local embedder");
if (modelDir) {
  const gws: TestGateway[] = [];
  afterAll(async () => {
    for (const g of gws) await g.dispose().catch(() => {});
  });
  const start = async (env: Record<string, string>) => {
    const gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN, ...env });
    gws.push(gw);
    return gw;
  };
  const admin = (gw: TestGateway, method: string, path: string, body?: unknown) =>
    fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const ask = (gw: TestGateway, content: string) => post(`${gw.url}/v1/chat/completions`, { model: "echo", temperature: 0, messages: [{ role: "user", content }] });
  const turnOn = async (gw: TestGateway) => {
    const r = await admin(gw, "PUT", "/api/v1/admin/cache", { semantic: { enabled: true } });
    expect(r.status).toBe(200);
    expect(((await r.json()) as any).effective.semantic).toMatchObject({ embeddings_model: "local", threshold: DEFAULT_THRESHOLD });
    await waitFor(() => gw.snapshot.cache?.global?.semantic?.enabled, 3000, "the policy");
  };

  describe("semantic tier, local embedder, no provider", () => {
    test("a paraphrase is a semantic hit answered with the earlier wording; an unrelated question misses", async () => {
      const gw = await start({ TOLLGATE_EMBEDDER_MODEL_DIR: modelDir });
      await turnOn(gw);
      const first = await ask(gw, "How do I reset my password?");
      expect(first.headers.get("x-tollgate-cache")).toBe("miss");
      // Stored after the response (embedded then if the worker was still loading during the lookup).
      await waitFor(async () => ((await (await fetch(`${gw.url}/v1/cache/stats`)).json()) as any).semantic.entries === 1 || undefined, 10_000, "the entry stored");
      const para = await ask(gw, "How can I reset my password?");
      expect(para.headers.get("x-tollgate-cache")).toBe("semantic-hit");
      expect(Number(para.headers.get("x-tollgate-cache-similarity"))).toBeGreaterThanOrEqual(DEFAULT_THRESHOLD); // the policy sets none: the default
      expect(((await para.json()) as any).choices[0].message.content).toBe("How do I reset my password?");
      const unrelated = await ask(gw, "What is the capital of France?");
      expect(unrelated.headers.get("x-tollgate-cache")).toBe("miss");
      expect(((await unrelated.json()) as any).choices[0].message.content).toBe("What is the capital of France?");

      const stats = (await (await fetch(`${gw.url}/v1/cache/stats`)).json()) as any;
      expect(stats.semantic.hits).toBeGreaterThanOrEqual(1);
      expect(stats.semantic.embedding_cost_usd).toBe(0); // local: free
      const ready = (await (await fetch(`${gw.url}/ready`, { headers: { authorization: `Bearer ${gw.adminKey}` } })).json()) as any;
      expect(ready.checks.semantic_embedder).toMatchObject({ state: "ready", dimensions: 384 });
    });

    test("without the model the gateway starts and serves; the embedder is `degraded` and lookups miss", async () => {
      const empty = mkdtempSync(join(tmpdir(), "tollgate-no-model-"));
      const gw = await start({ TOLLGATE_EMBEDDER_MODEL_DIR: empty });
      const before = (await (await fetch(`${gw.url}/ready`, { headers: { authorization: `Bearer ${gw.adminKey}` } })).json()) as any;
      expect(before.status).toBe("ready"); // the tier is off by default: not a reason to degrade the gateway
      expect(before.checks.semantic_embedder.state).toBe("degraded");
      expect(before.checks.semantic_embedder.detail).toContain("scripts/embedder-model.sh install");
      await turnOn(gw);
      for (const q of ["How do I reset my password?", "How can I reset my password?"]) {
        const r = await ask(gw, q);
        expect(r.status).toBe(200);
        expect(r.headers.get("x-tollgate-cache")).toBe("miss");
      }
      const stats = (await (await fetch(`${gw.url}/v1/cache/stats`)).json()) as any;
      expect(stats.semantic.embedding_errors).toBe(2);
    });
  });
}
