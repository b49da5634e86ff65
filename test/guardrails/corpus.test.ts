/**
 * Precision and recall per PII type on the labelled corpus (test/fixtures/pii-corpus.jsonl),
 * measured through the running gateway: guardrails set to `redact` every type, each sentence
 * sent to the echo provider, and the placeholders in what came back aligned to the sentence.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PII_TYPES } from "../../src/guardrails/types.ts";
import { adminHeaders, post, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { alignPlaceholders } from "./align.ts";

interface Row { text: string; lang: string; spans: Array<{ start: number; end: number; type: string }>; negative?: boolean }
const rows: Row[] = readFileSync(join(import.meta.dir, "../fixtures/pii-corpus.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
  const res = await fetch(`${gw.url}/api/v1/admin/guardrails`, { method: "PUT", headers: adminHeaders(), body: JSON.stringify({ pii: { action: "redact" } }) });
  expect(res.status).toBe(200);
});
afterAll(() => gw?.dispose());

test("corpus shape: ≥400 sentences, EN and VI, ≥150 hard negatives, every type", () => {
  expect(rows.length).toBeGreaterThanOrEqual(400);
  expect(rows.filter((r) => r.negative && r.spans.length === 0).length).toBeGreaterThanOrEqual(150);
  expect(new Set(rows.map((r) => r.lang))).toEqual(new Set(["en", "vi"]));
  for (const t of PII_TYPES) expect(rows.some((r) => r.spans.some((s) => s.type === t && r.lang === "vi"))).toBe(true);
});

test("precision and recall per type through the gateway (echo)", async () => {
  const stats = Object.fromEntries(PII_TYPES.map((t) => [t, { tp: 0, fp: 0, fn: 0 }])) as Record<string, { tp: number; fp: number; fn: number }>;
  const misses: string[] = [];
  const queue = [...rows];
  const worker = async () => {
    for (let r = queue.shift(); r; r = queue.shift()) {
      const res = await post(`${gw.url}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content: r.text }] });
      expect(res.status).toBe(200);
      const echoed = ((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content;
      const pred = alignPlaceholders(r.text, echoed);
      const key = (s: { start: number; end: number; type: string }) => `${s.type}:${s.start}:${s.end}`;
      const gold = new Set(r.spans.map(key));
      const got = new Set(pred.map(key));
      for (const p of pred) {
        if (gold.has(key(p))) stats[p.type]!.tp++;
        else (stats[p.type]!.fp++, misses.push(`FP ${p.type}: ${r.text}`));
      }
      for (const g of r.spans) if (!got.has(key(g))) (stats[g.type]!.fn++, misses.push(`FN ${g.type}: ${r.text}`));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const table = PII_TYPES.map((t) => {
    const s = stats[t]!;
    return { type: t, support: s.tp + s.fn, precision: s.tp / Math.max(1, s.tp + s.fp), recall: s.tp / Math.max(1, s.tp + s.fn), fp: s.fp, fn: s.fn };
  });
  console.log("| type | support | precision | recall |\n| --- | --- | --- | --- |\n" + table.map((r) => `| ${r.type} | ${r.support} | ${r.precision.toFixed(3)} | ${r.recall.toFixed(3)} |`).join("\n"));
  if (misses.length) console.log(misses.slice(0, 20).join("\n"));
  for (const r of table) {
    expect(r.support).toBeGreaterThan(0);
    if (["card", "iban", "email", "ssn", "secret"].includes(r.type)) {
      expect(r.recall).toBeGreaterThanOrEqual(0.99);
      expect(r.precision).toBeGreaterThanOrEqual(0.98);
    }
  }
}, 120_000);

test("alignment helper maps placeholders back to the original spans", () => {
  expect(alignPlaceholders("mail a@b.co now", "mail [EMAIL_1] now")).toEqual([{ start: 5, end: 11, type: "email" }]);
  expect(alignPlaceholders("x 4111111111111111", "x [CARD_1]")).toEqual([{ start: 2, end: 18, type: "card" }]);
  expect(alignPlaceholders("IP 10.0.0.8.", "IP [IP_1].")).toEqual([{ start: 3, end: 11, type: "ip" }]);
});
