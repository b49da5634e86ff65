/**
 * Cost to the nano-dollar (issue 23), pure and end to end:
 * - the arithmetic: exact decimal rates × integer tokens, rounded once half-up to the nano;
 * - gpt-4o-mini (catalog, $0.15 / $0.60 per 1M), 10 in / 20 out = $0.0000135 exactly in the
 *   generate API, in `request.completed` (v2 `costNanos`) and in /api/v1/usage/summary;
 * - a 30-token embedding at $0.02 per 1M = $0.0000006;
 * - 1,000 requests of mixed sizes: the analytics sum equals the sum of the exact per-request costs,
 *   computed here independently (integer tenths of a nano per token) to the nano-dollar.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { costNanos } from "../../src/pricing/price.ts";
import { decimalToScaled, nanosFromUsd, nanosOfTokens, payloadNanos, usdFromNanos, usdString } from "../../src/pricing/money.ts";
import { type FakeOpenAI, startFakeOpenAI } from "../fakes/openai-upstream.ts";
import { post, startTestGateway, type TestGateway, waitFor, writeConfigFile } from "../helpers/gateway.ts";

describe("money arithmetic", () => {
  test("rates are read as exact decimals, not binary doubles", () => {
    expect(decimalToScaled(0.15, 12)).toBe(150_000_000_000n);
    expect(decimalToScaled(0.1 + 0.2, 2)).toBe(30n); // 0.30000000000000004 → 0.30
    expect(decimalToScaled(1e-7, 9)).toBe(100n);
    expect(decimalToScaled(2.5e21, 0)).toBe(2_500_000_000_000_000_000_000n);
    expect(decimalToScaled(0.0000005, 6)).toBe(1n); // half-up
    expect(decimalToScaled(-1, 6)).toBe(0n);
    expect(decimalToScaled(Number.NaN, 6)).toBe(0n);
  });
  test("the worked examples", () => {
    expect(costNanos({ prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 }, { input: 0.15, output: 0.6 })).toBe(13_500);
    expect(costNanos({ prompt_tokens: 30, completion_tokens: 0, total_tokens: 30 }, { input: 0.02, output: 0 })).toBe(600);
    expect(usdString(13_500)).toBe("0.0000135");
    expect(usdString(600)).toBe("0.0000006");
    expect(usdString(1_000_000_000)).toBe("1");
    expect(usdString("123456789012345678")).toBe("123456789.012345678");
    expect(usdFromNanos(13_500)).toBe(0.0000135);
    expect(JSON.stringify({ c: usdFromNanos(13_500) })).toBe('{"c":0.0000135}');
  });
  test("rounded once, half-up, after summing every token class", () => {
    // 3 tokens at $0.0375/M = 112.5 nanos → 113; 1 at $0.0375 + 1 at $0.0375 = 75 (no per-class rounding).
    expect(nanosOfTokens([[3, 0.0375]])).toBe(113);
    expect(nanosOfTokens([[1, 0.0375], [1, 0.0375]])).toBe(75);
    expect(nanosOfTokens([[1, 0.0004]])).toBe(0); // 0.4 nano
    expect(nanosOfTokens([[1, 0.0005]])).toBe(1); // 0.5 nano rounds up
  });
  test("old events (costUsd only, micro-rounded) convert exactly; v2 integer nanos win", () => {
    expect(nanosFromUsd(0.000014)).toBe(14_000);
    expect(nanosFromUsd(0.1 + 0.2)).toBe(300_000_000);
    expect(payloadNanos({ costUsd: 0.000014 }, "cost")).toBe(14_000);
    expect(payloadNanos({ costNanos: 13_500, costUsd: 0.000014 }, "cost")).toBe(13_500);
    expect(payloadNanos({ savedUsd: "1" }, "saved")).toBe(0);
  });
});

const ADMIN = "nano-cost-admin-key-0123456789abcdef";
let gw: TestGateway;
let upstream: FakeOpenAI;
let key = "";
const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, ...(body ? { body: JSON.stringify(body) } : {}) });
const json = async <T = Record<string, any>>(r: Response) => (await r.json()) as T;
const summary = async (tenant: string) => (await json<{ data: Record<string, number> }>(await admin("GET", `/api/v1/usage/summary?days=1&tenant=${tenant}`))).data;

beforeAll(async () => {
  upstream = startFakeOpenAI({ apiKey: "sk-up" });
  process.env.NANO_UP_KEY = "sk-up";
  const file = await writeConfigFile([
    "providers:",
    `  - { id: oai, kind: openai, base_url: "${upstream.url}", api_key_env: NANO_UP_KEY, models: [gpt-4o-mini, text-embedding-3-small] }`,
  ]);
  gw = await startTestGateway({ TOLLGATE_CONFIG: file, TOLLGATE_ADMIN_KEY: ADMIN, TOLLGATE_ANALYTICS: "on" });
  for (const t of ["worked", "mixed"]) expect((await admin("POST", "/api/v1/admin/tenants", { id: t, name: t })).status).toBe(201);
  key = (await json<{ key: string }>(await admin("POST", "/api/v1/admin/keys", { tenant_id: "worked", name: "k" }))).key;
  await waitFor(async () => gw.analytics?.status().state === "ready", 30_000, "analytics ready");
}, 60_000);

afterAll(async () => {
  await gw?.dispose();
  await upstream?.close();
});

describe("nano-dollar cost end to end", () => {
  test("gpt-4o-mini 10 in / 20 out: 0.0000135 in the generate API, request.completed and /api/v1/usage/summary; a 30-token embedding: 0.0000006", async () => {
    upstream.setBehavior({ kind: "ok", content: "ok", usage: { prompt_tokens: 10, completion_tokens: 20 } });
    const r = await post(`${gw.url}/api/v1/generate`, { prompt: "hi", provider: "oai", model: "gpt-4o-mini" }, { "x-service-key": key });
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(text).toContain('"cost_usd":0.0000135');
    expect(JSON.parse(text).cost_usd).toBe(0.0000135);
    const id = r.headers.get("x-request-id")!;

    upstream.setBehavior({ kind: "ok" });
    const e = await post(`${gw.url}/v1/embeddings`, { model: "oai/text-embedding-3-small", input: "x".repeat(120) }, { authorization: `Bearer ${key}` }); // the fake counts 120 chars as 30 tokens
    expect(e.status).toBe(200);
    expect((await json(e)).usage.prompt_tokens).toBe(30);
    const embId = e.headers.get("x-request-id")!;

    const events = await gw.events();
    const done = (rid: string) => events.find((x) => x.type === "request.completed" && x.requestId === rid)!;
    expect(done(id).v).toBe(2);
    expect(done(id).payload).toMatchObject({ costNanos: 13_500, costUsd: 0.0000135, priceSource: expect.stringMatching(/^catalog:/) });
    expect(done(embId).payload).toMatchObject({ costNanos: 600, costUsd: 0.0000006 });

    const s = await waitFor(async () => {
      const d = await summary("worked");
      return d.requests === 2 ? d : undefined;
    }, 20_000, "projection caught up");
    expect(s).toMatchObject({ cost_nanos: 14_100, cost_usd: 0.0000141 });
  }, 60_000);

  test("1,000 requests of mixed sizes: the analytics sum equals the sum of the exact per-request costs, to the nano", async () => {
    // An operator price with sub-nano per-token rates: $0.0375 / $1.1 per 1M = 37.5 / 1,100 nanos per token.
    expect((await admin("POST", "/api/v1/prices", { id: "oai/gpt-4o-mini", input: 0.0375, output: 1.1 })).status).toBe(201);
    const k = (await json<{ key: string }>(await admin("POST", "/api/v1/admin/keys", { tenant_id: "mixed", name: "k" }))).key;
    const ids: string[] = [];
    for (let batch = 0; batch < 50; batch++) {
      const rs = await Promise.all(
        Array.from({ length: 20 }, (_, j) => {
          const i = batch * 20 + j;
          // The fake answers with usage computed from the request: mixed prompt and completion sizes.
          return post(`${gw.url}/v1/chat/completions`, { model: "oai/gpt-4o-mini", max_tokens: 1 + ((i * 37) % 400), messages: [{ role: "user", content: "w ".repeat(1 + ((i * 7919) % 3000)) }] }, { authorization: `Bearer ${k}` });
        }),
      );
      for (const r of rs) {
        expect(r.status).toBe(200);
        await r.text();
        ids.push(r.headers.get("x-request-id")!);
      }
    }
    const want = new Set(ids);
    const events = (await gw.events()).filter((e) => e.type === "request.completed" && want.has(e.requestId ?? ""));
    expect(events).toHaveLength(1_000);
    // Independent: tenths of a nano per token are integers (375 and 11,000); round half-up once.
    let exact = 0n;
    const sizes = new Set<number>();
    for (const e of events) {
      const p = e.payload as { inputTokens: number; outputTokens: number; costNanos: number };
      const tenths = BigInt(p.inputTokens) * 375n + BigInt(p.outputTokens) * 11_000n;
      const nanos = (tenths + 5n) / 10n;
      expect(p.costNanos).toBe(Number(nanos));
      exact += nanos;
      sizes.add(p.inputTokens);
    }
    expect(sizes.size).toBeGreaterThan(100);
    const s = await waitFor(async () => {
      const d = await summary("mixed");
      return d.requests === 1_000 ? d : undefined;
    }, 60_000, "projection caught up");
    expect(s.cost_nanos).toBe(Number(exact));
    expect(s.cost_usd).toBe(Number(usdString(exact)));
    // The old micro-rounding would have drifted from the exact sum.
    const microRounded = events.reduce((n, e) => n + Math.round((e.payload.costNanos as number) / 1000) * 1000, 0);
    expect(microRounded).not.toBe(Number(exact));
  }, 120_000);
});

describe("the fast (number) and exact (BigInt) paths agree", () => {
  test("random rates and token counts, against a BigInt reference", () => {
    let seed = 23;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const RATES = [0.15, 0.6, 0.02, 0.0375, 2.5, 10, 15, 0.075, 1.1, 0.000123456789, 75, 0.3, 3.75, 1e-7, 600];
    for (let i = 0; i < 5000; i++) {
      const terms = Array.from({ length: 4 }, () => [Math.floor(rnd() ** 3 * (i % 50 === 0 ? 5e12 : 3e6)), RATES[Math.floor(rnd() * RATES.length)]!] as const);
      // Reference: every rate at 10^-12 USD per 1M tokens (all RATES are exact there), sum, round half-up once.
      const ref = terms.reduce((n, [t, r]) => n + BigInt(t) * decimalToScaled(r, 12), 0n);
      expect(nanosOfTokens(terms)).toBe(Number((ref + 500_000_000n) / 1_000_000_000n));
    }
  });
});
