/**
 * Issue 22, finding 1, in a real browser: a gateway started like `make run` (no
 * TOLLGATE_ADMIN_KEY, loopback bind, no virtual key yet) and a page on another origin that tries
 * to drive its admin API — a simple `text/plain` POST (no preflight), a body without a content
 * type, a preflighted JSON POST and a read of the config — gets nothing: no response it can
 * read, and nothing created. A page on a rebound name (DNS rebinding: `evil.test` resolves to
 * 127.0.0.1, so the page is same-origin with the gateway) gets 421 for everything, including the
 * keyless first-run model calls.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { chromiumMissing, launchBrowser } from "../helpers/browser.ts";
import { availableOrFail } from "../helpers/services.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

if (availableOrFail("cross-site requests in a browser", "chromium", chromiumMissing())) {
  let gw: TestGateway;
  let browser: Browser;
  let attacker: ReturnType<typeof Bun.serve>;
  beforeAll(async () => {
    // As `make run` does it: no admin key in the environment.
    gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: "" });
    // Another origin (another port is another origin): the attacker's page.
    attacker = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("<!doctype html><title>cute cats</title>", { headers: { "content-type": "text/html" } }) });
    browser = await launchBrowser([`--host-resolver-rules=MAP evil.test 127.0.0.1`]);
  });
  afterAll(async () => {
    await browser?.close();
    attacker?.stop(true);
    await gw?.dispose();
  });

  const tenants = () => Object.keys(gw.config.state.entities.tenant ?? {});
  const keys = () => Object.keys(gw.config.state.entities.key ?? {});

  describe("a page on another origin", () => {
    test("the simple and the preflighted requests get nothing, and create nothing", async () => {
      const before = { tenants: tenants(), keys: keys(), config: (await gw.events("config")).length };
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${attacker.port}/`);
      const outcome = await page.evaluate(async (gateway) => {
        const body = JSON.stringify({ id: "pwned", name: "pwned" });
        const attempt = async (run: () => Promise<Response>) => {
          try {
            const res = await run();
            let text = "";
            try {
              text = await res.text();
            } catch {
              text = "(unreadable)";
            }
            return { type: res.type, status: res.status, text };
          } catch (err) {
            return { error: String(err) };
          }
        };
        return {
          // Simple requests: the browser sends them without asking (no-cors: the page sees an opaque answer at best).
          simpleTextPlain: await attempt(() => fetch(`${gateway}/api/v1/admin/tenants`, { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body })),
          simpleKey: await attempt(() => fetch(`${gateway}/api/v1/admin/keys`, { method: "POST", mode: "no-cors", body: JSON.stringify({ tenant_id: "default" }) })),
          simpleUntyped: await attempt(() => fetch(`${gateway}/api/v1/admin/tenants`, { method: "POST", mode: "no-cors", body: new Blob([body]) })),
          // Preflighted: JSON content type, and a read of the config.
          preflighted: await attempt(() => fetch(`${gateway}/api/v1/admin/tenants`, { method: "POST", headers: { "content-type": "application/json" }, body })),
          readConfig: await attempt(() => fetch(`${gateway}/api/v1/admin/config`)),
        };
      }, gw.url);
      await page.close();
      // Nothing readable: the simple ones are opaque (status 0, empty), the CORS ones fail outright.
      for (const simple of [outcome.simpleTextPlain, outcome.simpleKey, outcome.simpleUntyped]) expect(simple).toEqual({ type: "opaque", status: 0, text: "" });
      expect(outcome.preflighted).toEqual({ error: expect.stringContaining("Failed to fetch") });
      expect(outcome.readConfig).toEqual({ error: expect.stringContaining("Failed to fetch") });
      // And nothing happened on the gateway.
      expect(tenants()).toEqual(before.tenants);
      expect(keys()).toEqual(before.keys);
      expect((await gw.events("config")).length).toBe(before.config);
      expect(gw.adminKey.startsWith("tga-")).toBe(true); // generated: the admin API is never keyless
    }, 60_000);
  });

  describe("DNS rebinding: a page on a name that now resolves to the gateway", () => {
    test("is same-origin with the gateway, yet every request gets 421 (model calls included)", async () => {
      const requestsBefore = (await gw.events("requests")).filter((e) => e.type === "request.completed").length;
      const page = await browser.newPage();
      const first = await page.goto(`http://evil.test:${gw.port}/health`);
      expect(first?.status()).toBe(421);
      const outcome = await page.evaluate(async () => {
        const chat = await fetch("/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "spend the developer's keys" }] }) });
        const config = await fetch("/api/v1/admin/config");
        return { chat: chat.status, chatCode: ((await chat.json()) as { error: { code: string } }).error.code, config: config.status };
      });
      await page.close();
      expect(outcome).toEqual({ chat: 421, chatCode: "host_not_allowed", config: 421 });
      // The model call never ran (first-run mode would have answered it keyless).
      const after = (await gw.events("requests")).filter((e) => e.type === "request.completed" && e.payload.status === "ok").length;
      expect(after).toBeLessThanOrEqual(requestsBefore);
    }, 60_000);
  });
}
