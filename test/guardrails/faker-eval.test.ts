/**
 * The second, independent PII evaluation set (issue 23): test/fixtures/pii-eval-faker.jsonl, made by
 * test/fixtures/make-pii-eval.ts from Faker's providers for ten locales (phones, cards, IBANs,
 * e-mails) plus realistic look-alike hard negatives — data the detectors were not written against.
 * Run through the gateway (guardrails `redact` every type, echo provider); the placeholders in what
 * came back are aligned to the sentence. Floors per type: cards / IBANs / e-mails / SSNs ≥ 0.99
 * recall, phones with a country code ≥ 0.95, national formats of the default regions ≥ 0.90, and at
 * most 2% of the negative sentences altered at all.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { post, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { alignPlaceholders } from "./align.ts";

interface Span { start: number; end: number; type: string; cls?: "intl" | "national" }
interface Row { text: string; locale: string; spans: Span[]; negative?: boolean }
const rows: Row[] = readFileSync(join(import.meta.dir, "../fixtures/pii-eval-faker.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));

const ADMIN = "faker-eval-admin-key-0123456789abcdef";
let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN });
  const res = await fetch(`${gw.url}/api/v1/admin/guardrails`, { method: "PUT", headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ pii: { action: "redact" } }) });
  expect(res.status).toBe(200);
});
afterAll(() => gw?.dispose());

test("set shape: ten locales, every class represented, ≥ 500 negatives", () => {
  expect(new Set(rows.map((r) => r.locale)).size).toBe(10);
  expect(rows.filter((r) => r.negative).length).toBeGreaterThanOrEqual(500);
  for (const c of ["intl", "national"]) expect(rows.filter((r) => r.spans.some((s) => s.cls === c)).length).toBeGreaterThanOrEqual(200);
  for (const t of ["card", "iban", "email", "ssn"]) expect(rows.filter((r) => r.spans.some((s) => s.type === t)).length).toBeGreaterThanOrEqual(40);
});

test("recall per type and negatives altered, through the gateway (echo, redact)", async () => {
  const classes = ["card", "iban", "email", "ssn", "phone:intl", "phone:national"] as const;
  const stats = Object.fromEntries(classes.map((c) => [c, { hit: 0, n: 0 }])) as Record<string, { hit: number; n: number }>;
  let negatives = 0;
  let altered = 0;
  const misses: string[] = [];
  const queue = [...rows];
  const worker = async () => {
    for (let r = queue.shift(); r; r = queue.shift()) {
      const res = await post(`${gw.url}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content: r.text }] });
      expect(res.status).toBe(200);
      const echoed = ((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content;
      if (r.negative) {
        negatives++;
        if (echoed !== r.text) (altered++, misses.push(`NEG altered: ${r.text} → ${echoed}`));
        continue;
      }
      const got = alignPlaceholders(r.text, echoed);
      for (const s of r.spans) {
        const c = s.type === "phone" ? `phone:${s.cls}` : s.type;
        stats[c]!.n++;
        if (got.some((g) => g.type === s.type && g.start === s.start && g.end === s.end)) stats[c]!.hit++;
        else misses.push(`MISS ${c} [${r.locale}]: ${r.text} → ${echoed}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const recall = (c: string) => stats[c]!.hit / stats[c]!.n;
  console.log("| class | support | recall |\n| --- | --- | --- |\n" + classes.map((c) => `| ${c} | ${stats[c]!.n} | ${recall(c).toFixed(3)} |`).join("\n") + `\n| negatives altered | ${negatives} | ${(altered / negatives).toFixed(3)} |`);
  if (misses.length) console.log(misses.slice(0, 40).join("\n"));
  for (const c of ["card", "iban", "email", "ssn"]) expect(recall(c)).toBeGreaterThanOrEqual(0.99);
  expect(recall("phone:intl")).toBeGreaterThanOrEqual(0.95);
  expect(recall("phone:national")).toBeGreaterThanOrEqual(0.9);
  expect(altered / negatives).toBeLessThanOrEqual(0.02);
}, 180_000);
