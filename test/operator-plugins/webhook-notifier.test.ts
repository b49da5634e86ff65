/**
 * The webhook-notifier example against a real local HTTP receiver: signatures verify, a 500 is
 * retried with backoff, and nothing is lost across a receiver outage. Budget-threshold and
 * guardrail events of the tenant are what it sends.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { verifySignature } from "../../plugins/webhook-notifier/sign.ts";
import { backoffMs } from "../../plugins/webhook-notifier/outbox.ts";
import { adminHeaders, startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";
import { chatBody, pluginsDir, rawFile } from "./fixtures.ts";

const SECRET = "whsec-test-0123456789abcdef";
const dir = pluginsDir();
let gw: TestGateway;

interface Received {
  headers: Headers;
  body: string;
}
const received: Received[] = [];
let failNext = 0;
let server: ReturnType<typeof Bun.serve> | undefined;
let port = 0;
function startReceiver(): void {
  server = Bun.serve({
    port,
    async fetch(req) {
      const body = await req.text();
      if (failNext > 0) {
        failNext--;
        received.push({ headers: req.headers, body: `FAILED ${body}` });
        return new Response("boom", { status: 500 });
      }
      received.push({ headers: req.headers, body });
      return new Response("ok");
    },
  });
  port = server.port!;
}

const delivered = () => received.filter((r) => !r.body.startsWith("FAILED"));
const ids = (rs: Received[]) => rs.map((r) => r.headers.get("x-tollgate-delivery"));

beforeAll(async () => {
  process.env.TEST_WEBHOOK_SECRET = SECRET;
  startReceiver();
  symlinkSync(resolve(import.meta.dir, "../../plugins/webhook-notifier"), join(dir, "webhook-notifier"));
  // A guardrail as a single-file plugin: records guardrail.blocked and refuses.
  rawFile(dir, "tiny-guardrail.ts", `import { definePlugin } from "${resolve(import.meta.dir, "../../src/pipeline/plugin.ts")}";
import { GatewayError } from "${resolve(import.meta.dir, "../../src/pipeline/errors.ts")}";
export default definePlugin({ name: "tiny-guardrail", version: "1", phases: { inspect(ctx) {
  if (String(ctx.request.messages.at(-1)?.content).includes("forbidden")) {
    ctx.emit({ type: "guardrail.blocked", payload: { rule: "forbidden-word" } });
    throw new GatewayError({ status: 400, code: "content_blocked", message: "blocked" });
  }
} } });
`);
  gw = await startTestGateway({ TOLLGATE_PLUGINS_DIR: dir });
  const put = await fetch(`${gw.url}/api/v1/admin/tenants/default/plugins/webhook-notifier`, {
    method: "PUT",
    headers: adminHeaders(),
    body: JSON.stringify({ enabled: true, settings: { url: `http://127.0.0.1:${port}/hook`, secret_env: "TEST_WEBHOOK_SECRET", backoff_base_ms: 50, backoff_max_ms: 200 } }),
  });
  expect(put.status).toBe(201);
}, 60_000);

afterAll(async () => {
  await gw?.dispose();
  server?.stop(true);
  rmSync(dir, { recursive: true, force: true });
  delete process.env.TEST_WEBHOOK_SECRET;
});

async function chat(content: string, key?: string, extra: Record<string, unknown> = {}) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: JSON.stringify({ ...chatBody(content), ...extra }) });
  await res.body?.cancel();
  return res.status;
}

describe("webhook-notifier", () => {
  test("a guardrail event is POSTed, signed with HMAC-SHA256 and a timestamp; no prompt text", async () => {
    expect(await chat("say the forbidden thing")).toBe(400);
    const [r] = await waitFor(() => (delivered().length >= 1 ? delivered() : undefined), 5000, "the webhook");
    expect(r!.headers.get("x-tollgate-event")).toBe("guardrail.blocked");
    const sig = r!.headers.get("x-tollgate-signature");
    expect(verifySignature(SECRET, r!.body, sig)).toBe(true);
    expect(verifySignature("wrong-secret-wrong-secret", r!.body, sig)).toBe(false);
    expect(verifySignature(SECRET, r!.body.replace("forbidden-word", "other-word"), sig)).toBe(false); // body tampered
    expect(verifySignature(SECRET, r!.body, sig, { nowSeconds: Math.floor(Date.now() / 1000) + 3600 })).toBe(false); // replayed an hour later
    const body = JSON.parse(r!.body);
    expect(body).toMatchObject({ type: "guardrail.blocked", tenant: "default", data: { rule: "forbidden-word" } });
    expect(r!.body).not.toContain("say the forbidden thing");
  });

  test("a 500 is retried with backoff until it is delivered", async () => {
    received.length = 0;
    failNext = 2;
    expect(await chat("forbidden again")).toBe(400);
    await waitFor(() => delivered().length === 1, 5000, "the retried delivery");
    expect(received).toHaveLength(3);
    expect(new Set(ids(received)).size).toBe(1); // one delivery, three attempts
    expect(received.map((r) => r.headers.get("x-tollgate-attempt"))).toEqual(["1", "2", "3"]);
  });

  test("nothing is lost across a receiver outage", async () => {
    received.length = 0;
    server!.stop(true);
    for (let i = 0; i < 5; i++) expect(await chat(`forbidden #${i}`)).toBe(400);
    await Bun.sleep(400); // several attempts fail against the closed port
    expect(received).toHaveLength(0);
    startReceiver(); // back on the same port
    await waitFor(() => delivered().length >= 5, 10_000, "every held delivery");
    expect(new Set(ids(delivered())).size).toBe(5);
    await waitFor(async () => (await gw.store.get("plugin:webhook-notifier:default:outbox-index")) === "[]", 5000, "the outbox to drain");
  });

  test("a budget crossing its threshold is sent too", async () => {
    const admin = (path: string, body: unknown) => fetch(`${gw.url}${path}`, { method: "POST", headers: adminHeaders(), body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
    expect((await admin("/api/v1/admin/tenants", { id: "acme", name: "Acme", budget: { amount_usd: 0.1, period: "month" } })).status).toBe(201);
    expect((await admin("/api/v1/prices", { id: "echo/echo", input: 1000, output: 2000 })).status).toBe(201);
    const key = String((await admin("/api/v1/admin/keys", { tenant_id: "acme" })).body.key);
    const put = await fetch(`${gw.url}/api/v1/admin/tenants/acme/plugins/webhook-notifier`, { method: "PUT", headers: adminHeaders(), body: JSON.stringify({ enabled: true, settings: { url: `http://127.0.0.1:${port}/acme`, secret_env: "TEST_WEBHOOK_SECRET", backoff_base_ms: 50 } }) });
    expect(put.status).toBe(201);
    received.length = 0;
    // ~8 prompt tokens × 1000 + 40 × 2000 micro-USD reserved: 88 % of the $0.10 budget at once.
    expect(await chat("spend", key, { max_tokens: 40 })).toBe(200);
    const hit = await waitFor(() => delivered().find((r) => r.headers.get("x-tollgate-event") === "budget.threshold_crossed"), 5000, "the budget webhook");
    expect(JSON.parse(hit.body)).toMatchObject({ tenant: "acme", data: { thresholdPct: 80 } });
  });

  test("backoff doubles up to the cap, with jitter", () => {
    expect(backoffMs(1, 100, 1000, () => 0.5)).toBe(100);
    expect(backoffMs(3, 100, 1000, () => 0.5)).toBe(400);
    expect(backoffMs(10, 100, 1000, () => 0.5)).toBe(1000);
    expect(backoffMs(1, 100, 1000, () => 0)).toBe(80);
  });
});
