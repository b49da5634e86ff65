/**
 * The operator console (/console) in real Chromium, every request outside the gateway blocked.
 * - the operator's day, end to end: provider + test, an alias with a fallback, a tenant and a key
 *   (copied from the page), a call with the official OpenAI SDK, the call in Requests with its
 *   timeline, a budget refusal with its explain, e-mail redaction counted, the key revoked, and all
 *   of it in Config history with a diff;
 * - every page at 1280 px and 390 px: no console error, no failed request, no CSP violation
 *   (screenshots under .test-artifacts/console/);
 * - markup in names, models and plugin errors renders as text (no dialog);
 * - a virtual key sees its tenant only, without write controls, and the API refuses its writes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import OpenAI from "openai";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { CONSOLE_CSP } from "../../src/console/routes.ts";
import { startFakeOpenAI, type FakeOpenAI } from "../fakes/openai-upstream.ts";
import { chromiumMissing, launchBrowser } from "../helpers/browser.ts";
import { startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";
import { availableOrFail } from "../helpers/services.ts";

const ROOT = resolve(import.meta.dir, "../..");
const SHOTS = join(ROOT, ".test-artifacts/console");
const ADMIN = "console-test-admin-key-0123456789";
const XSS = "<img src=x onerror=alert(1)>";
const PAGES = ["overview", "requests", "providers", "routes", "overrides", "tenants", "guardrails", "cache", "plugins", "prices", "cost", "history"] as const;

if (availableOrFail("operator console in a browser", "chromium", chromiumMissing())) {
  let gw: TestGateway;
  let fake: FakeOpenAI;
  let browser: Browser;
  const admin = async (method: string, path: string, body?: unknown, key = ADMIN) => {
    const r = await fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: r.status, body: (await r.json().catch(() => ({}))) as Record<string, unknown> };
  };

  beforeAll(async () => {
    fake = startFakeOpenAI({ apiKey: "sk-fake-upstream" });
    // An operator plugin whose error message is markup (rendered as text on the Plugins page).
    const plugins = join(ROOT, ".test-artifacts/console-plugins", String(process.pid));
    mkdirSync(join(plugins, "xss-plugin"), { recursive: true });
    const api = join(ROOT, "src/pipeline/operator/api.ts");
    writeFileSync(join(plugins, "xss-plugin/manifest.ts"), `import { defineManifest } from ${JSON.stringify(api)};\nexport default defineManifest({ name: "xss-plugin", version: "1.0.0", phases: ["inspect"], defaultEnabled: true, failurePolicy: "fail-open", timeoutMs: 1000, isolation: "inline" });\n`);
    writeFileSync(join(plugins, "xss-plugin/index.ts"), `import { definePlugin } from ${JSON.stringify(api)};\nexport default definePlugin({ hooks: { inspect(ctx) { if (ctx.request.messages.some((m) => typeof m.content === "string" && m.content.includes("trigger-plugin-error"))) throw new Error(${JSON.stringify(XSS)}); } } });\n`);
    gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN, TOLLGATE_MASTER_KEY: "console-test-master-key-0123456789", TOLLGATE_PLUGINS_DIR: plugins, TOLLGATE_ANALYTICS: "on" });
    await waitFor(async () => gw.analytics?.status().state === "ready", 30_000, "analytics ready");
    browser = await launchBrowser();
    mkdirSync(SHOTS, { recursive: true });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await gw?.dispose();
    await fake?.close();
  });

  interface Tab {
    context: BrowserContext;
    page: Page;
    /** Console errors, page errors, CSP violations, failed or non-2xx requests (other than those a test expects). */
    problems: string[];
    dialogs: string[];
  }

  async function openTab(width = 1280, allow: (url: string, status: number) => boolean = () => false): Promise<Tab> {
    const context = await browser.newContext({ viewport: { width, height: 900 }, locale: "en-US", timezoneId: "UTC" });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: gw.url });
    const page = await context.newPage();
    const problems: string[] = [];
    const dialogs: string[] = [];
    await page.route("**/*", (route) => (route.request().url().startsWith(gw.url) ? route.continue() : (problems.push(`outside: ${route.request().url()}`), route.abort())));
    page.on("console", (m) => {
      if (m.type() === "error" && !/status of (4\d\d)/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    // ERR_ABORTED: a fetch cut short by the test's own reload/navigation, not a failure.
    page.on("requestfailed", (r) => r.failure()?.errorText !== "net::ERR_ABORTED" && problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on("response", (r) => {
      if (r.status() >= 400 && !allow(r.url(), r.status())) problems.push(`${r.status()}: ${r.request().method()} ${r.url()}`);
    });
    // A confirm() (delete, revoke) is the operator saying yes; any other dialog (an alert from
    // injected markup) is recorded and fails the test that checks.
    page.on("dialog", async (d) => {
      if (d.type() === "confirm") return d.accept();
      dialogs.push(d.message());
      await d.dismiss();
    });
    return { context, page, problems, dialogs };
  }

  async function signIn(page: Page, key: string) {
    await page.goto(`${gw.url}/console`, { waitUntil: "load" });
    await page.locator("#signin-key").fill(key);
    await page.locator("#signin button[type=submit]").click();
    await page.locator("#signout").waitFor();
  }

  const go = async (page: Page, path: string) => {
    await page.goto(`${gw.url}/console#/${path}`);
    await page.locator(`main[data-page="${path.split("/")[0]}"]`).waitFor();
  };
  /** Fill the form `id`'s fields by name, then submit it. */
  async function fill(page: Page, id: string, values: Record<string, string | boolean>, submit = true) {
    const form = page.locator(`form#${id}`);
    for (const [name, v] of Object.entries(values)) {
      const field = form.locator(`[name="${name}"]`);
      const tag = await field.evaluate((el) => (el as unknown as { tagName: string }).tagName);
      if (typeof v === "boolean") await field.setChecked(v);
      else if (tag === "SELECT") await field.selectOption(v);
      else await field.fill(v);
    }
    if (submit) await form.locator("button[type=submit]").click();
  }

  describe("operator console", () => {
    test("the page: strict CSP, content-hashed immutable assets, the first view under 250 KB", async () => {
      const r = await fetch(`${gw.url}/console`, { headers: { "accept-encoding": "gzip" } });
      expect(r.status).toBe(200);
      expect(r.headers.get("content-security-policy")).toBe(CONSOLE_CSP);
      expect(CONSOLE_CSP).toContain("script-src 'self'");
      expect(CONSOLE_CSP).not.toContain("unsafe");
      const html = await r.text();
      expect(html).not.toMatch(/https?:\/\//);
      const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
      expect(assets.length).toBe(2);
      let wire = html.length;
      for (const a of assets) {
        expect(a).toMatch(/^\/console\/assets\/[a-z]+-[0-9a-f]{12}\.(js|css)$/);
        const res = await fetch(`${gw.url}${a}`, { headers: { "accept-encoding": "gzip" } });
        expect(res.status).toBe(200);
        expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
        wire += Number(res.headers.get("content-length") ?? (await res.arrayBuffer()).byteLength);
      }
      expect(wire).toBeLessThan(250 * 1024);
      expect((await fetch(`${gw.url}/console/assets/main-000000000000.js`)).status).toBe(404);
    });

    test("the operator's day, end to end", async () => {
      const { page, problems, context } = await openTab(1280, (url, status) => (url.includes("/api/v1/keys/self") || url.includes("/api/v1/admin/config")) && status === 401);
      await signIn(page, ADMIN);

      // 1–2. A provider (a fake OpenAI-compatible upstream), then its connection test.
      await go(page, "providers");
      await fill(page, "providers-create", { id: "fakeai", kind: "openai", base_url: fake.url, api_key: "sk-fake-upstream", models: "gpt-4o-mini" });
      await page.locator('[data-collection="providers"] tr[data-row="fakeai"]').waitFor();
      expect(await page.locator('tr[data-row="fakeai"]').innerText()).not.toContain("sk-fake-upstream"); // write-only
      await page.locator('tr[data-row="fakeai"] button', { hasText: "Test" }).click();
      await expect(page.locator('tr[data-row="fakeai"] [data-test-result]').getAttribute("data-test-result")).resolves.toBe("ok");

      // 3. An alias with a fallback: fakeai first, echo second.
      await go(page, "routes");
      await fill(page, "routes-create", { id: "chat", strategy: "priority", targets: "fakeai/gpt-4o-mini, echo/echo" });
      await page.locator('[data-collection="routes"] tr[data-row="chat"]').waitFor();
      // Where a request would go now: the gateway route wins.
      await fill(page, "resolve", { model: "chat", tenant: "acme" });
      await page.locator('[data-winner="true"]').waitFor();
      expect(await page.locator('table[aria-label="Resolution order"] tr', { has: page.locator('[data-winner="true"]') }).innerText()).toContain("global");

      // 4. A tenant and a key; the key copied from the page.
      await go(page, "tenants");
      await fill(page, "tenants-create", { id: "acme", name: "Acme" });
      await page.locator('[data-collection="tenants"] tr[data-row="acme"]').waitFor();
      await fill(page, "key-create", { tenant_id: "acme", name: "web", service: "web" });
      await page.locator("#new-key").waitFor();
      await page.locator(".secret button.copy").click();
      const key = await page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText());
      expect(key).toMatch(/^tg-/);
      expect(await page.locator("#new-key").innerText()).toBe(key);

      // 5. A call with the official OpenAI SDK and that key.
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
      const first = await client.chat.completions.create({ model: "chat", messages: [{ role: "user", content: "hello from the console test" }] });
      expect(first.choices[0]?.message.content).toBeTruthy();

      // 6. The call in Requests, and its timeline.
      await go(page, "requests");
      const row = page.locator('table[aria-label="Requests"] tbody tr').first();
      await waitFor(async () => {
        await page.reload();
        await page.locator('main[data-page="requests"]').waitFor();
        return (await page.locator('table[aria-label="Requests"] tbody tr').count()) > 0;
      }, 60_000, "the call in Requests");
      expect(await row.innerText()).toContain("chat");
      await row.locator("a").click();
      await page.locator('#request-detail ol.timeline li[data-event="request.completed"]').waitFor();
      await page.locator("#request-detail ul.reasons li").first().waitFor();

      // 7. A budget too small for the next call: refused, and the refusal in Requests with its explain.
      await go(page, "tenants");
      await page.locator('[data-collection="keys"] tr', { hasText: "web" }).locator("button", { hasText: "Limits" }).click();
      await fill(page, "key-edit", { budget_usd: "0.0000001", budget_period: "day" });
      await waitFor(async () => (await page.locator("form#key-edit").count()) === 0, 5000, "the limits saved");
      const refused = await client.chat.completions.create({ model: "chat", messages: [{ role: "user", content: "this one is over budget" }] }).then(() => undefined, (e: { status?: number; code?: string }) => e);
      expect(refused?.status).toBe(429);
      expect(refused?.code).toBe("budget_exceeded");
      await go(page, "requests");
      await waitFor(async () => {
        await page.reload();
        await page.locator('main[data-page="requests"]').waitFor();
        return (await page.locator('[data-status="budget_exceeded"]').count()) > 0;
      }, 60_000, "the refusal in Requests");
      await page.locator('table[aria-label="Requests"] tbody tr', { has: page.locator('[data-status="budget_exceeded"]') }).locator("a").click();
      await page.locator("#request-detail ul.reasons li").first().waitFor();
      expect((await page.locator("#request-detail ul.reasons").innerText()).toLowerCase()).toContain("budget");

      // 8. E-mail redaction for the tenant (budget lifted), and the count on the next request.
      await go(page, "tenants");
      await page.locator('[data-collection="keys"] tr', { hasText: "web" }).locator("button", { hasText: "Limits" }).click();
      await fill(page, "key-edit", { budget_usd: "" });
      await waitFor(async () => (await page.locator("form#key-edit").count()) === 0, 5000, "the budget lifted");
      await go(page, "guardrails");
      await page.locator("#guardrails-tenant").fill("acme");
      await page.locator("#guardrails-tenant").blur();
      await page.locator('[data-scope="acme"] input[aria-label="email: redact"]').check();
      await waitFor(async () => (await admin("GET", "/api/v1/admin/tenants/acme/guardrails")).body.effective !== undefined && JSON.stringify((await admin("GET", "/api/v1/admin/tenants/acme/guardrails")).body.configured).includes("redact"), 5000, "redaction saved");
      await fill(page, "guardrails-try", { text: "mail me at jane.doe@example.com" });
      await page.locator("#dry-run-text").waitFor();
      expect(await page.locator("#dry-run-text").innerText()).toContain("[EMAIL_1]");
      const redacted = await client.chat.completions.create({ model: "chat", messages: [{ role: "user", content: "write to jane.doe@example.com please" }] });
      expect(redacted.choices[0]?.message.content).not.toContain("jane.doe@example.com");
      await go(page, "requests");
      await waitFor(async () => {
        await page.reload();
        await page.locator('main[data-page="requests"]').waitFor();
        return (await page.locator('table[aria-label="Requests"] tbody tr').first().innerText()).includes("×1");
      }, 60_000, "the redaction count in Requests");

      // 9. Revoke the key: the SDK is refused.
      await go(page, "tenants");
      await page.locator('[data-collection="keys"] tr', { hasText: "web" }).locator("button", { hasText: "Revoke" }).click();
      await page.locator('[data-collection="keys"] .status-revoked').waitFor();
      await waitFor(async () => (await client.chat.completions.create({ model: "chat", messages: [{ role: "user", content: "x" }] }).then(() => 200, (e: { status?: number }) => e.status)) === 401, 5000, "the key refused");

      // 10. All of it in Config history, with a diff from the first change to the last.
      await go(page, "history");
      const history = page.locator('table[aria-label="Config history"]');
      await history.waitFor();
      const text = await history.innerText();
      for (const what of ["provider fakeai", "route chat", "tenant acme", "key", "guardrails tenant:acme", "revoke"]) expect(text).toContain(what);
      const rows = history.locator("tbody tr");
      await rows.last().locator("button", { hasText: "From" }).click(); // the oldest entry (newest first)
      await rows.first().locator("button", { hasText: "To" }).click();
      await page.locator('#diff table[aria-label="Diff"]').waitFor();
      const diff = await page.locator("#diff").innerText();
      expect(diff).toContain("acme");
      expect(diff).toContain("chat");
      expect(problems).toEqual([]);
      await context.close();
    }, 300_000);

    test("every page at 1280 and 390 px: no console error, failed request or CSP violation", async () => {
      for (const width of [1280, 390]) {
        const { page, problems, context } = await openTab(width);
        await signIn(page, ADMIN);
        for (const p of PAGES) {
          if (width === 390) await page.goto(`${gw.url}/console#/${p}`);
          else await go(page, p);
          await page.locator(`main[data-page="${p}"] h1`).waitFor();
          await page.waitForLoadState("networkidle");
          await page.screenshot({ path: join(SHOTS, `${p}-${width}.png`), fullPage: true });
        }
        await page.goto(`${gw.url}/console/usage`, { waitUntil: "networkidle" });
        await page.screenshot({ path: join(SHOTS, `usage-${width}.png`), fullPage: true });
        if (width === 390) {
          // The menu is behind a toggle on a phone, and reachable by keyboard.
          await page.goto(`${gw.url}/console#/overview`);
          await page.locator(".menu-toggle").focus();
          await page.keyboard.press("Enter");
          await page.locator("nav#nav.open").waitFor();
        }
        expect(problems).toEqual([]);
        await context.close();
      }
    }, 120_000);

    test("markup in a tenant name, a model alias and a plugin error renders as text", async () => {
      expect((await admin("POST", "/api/v1/admin/tenants", { id: "xss", name: XSS })).status).toBe(201);
      expect((await admin("POST", "/api/v1/models", { id: "xss-alias", provider: "echo", model: XSS })).status).toBe(201);
      const caller = (await admin("POST", "/api/v1/admin/keys", { tenant_id: "xss", name: "caller" })).body.key as string;
      await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${caller}` }, body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "trigger-plugin-error" }] }) });
      await waitFor(async () => JSON.stringify((await admin("GET", "/api/v1/admin/plugins")).body).includes("onerror"), 5000, "the plugin error recorded");
      const { page, dialogs, context } = await openTab();
      await signIn(page, ADMIN);
      for (const [path, where] of [["tenants", '[data-collection="tenants"]'], ["routes", '[data-collection="aliases"]'], ["plugins", 'table[aria-label="Plugins"]']] as const) {
        await go(page, path);
        await page.locator(where).waitFor();
        await waitFor(async () => (await page.locator(where).innerText()).includes(XSS), 5000, `${path} shows the text`);
        expect(await page.locator(`${where} img`).count()).toBe(0);
      }
      expect(dialogs).toEqual([]);
      await context.close();
    }, 60_000);

    test("a virtual key: its tenant only, no write controls, and the API refuses its writes", async () => {
      expect((await admin("POST", "/api/v1/admin/tenants", { id: "viewer", name: "Viewer" })).status).toBe(201);
      const created = await admin("POST", "/api/v1/admin/keys", { tenant_id: "viewer", name: "ro" });
      const vkey = created.body.key as string;
      const { page, problems, context } = await openTab(1280, (url, status) => url.includes("/api/v1/admin/config") && status === 401);
      await signIn(page, vkey);
      expect(await page.locator('[data-who="tenant"]').innerText()).toContain("viewer");
      const menu = await page.locator("nav#nav").innerText();
      for (const hidden of ["Providers", "Routes", "Guardrails", "Plugins", "Prices", "Config history"]) expect(menu).not.toContain(hidden);
      for (const p of ["overview", "requests", "tenants", "cache"]) {
        await go(page, p);
        await page.locator(`main[data-page="${p}"] h1`).waitFor();
        await page.waitForLoadState("networkidle");
        expect(await page.locator("main form").count()).toBe(p === "requests" ? 1 : 0); // only the filters
        expect(await page.locator("main button.danger").count()).toBe(0);
      }
      // The page hides nothing the API would allow: the API itself refuses a virtual key's writes.
      for (const [method, path, body] of [["POST", "/api/v1/providers", { id: "x", kind: "echo", models: ["e"], enabled: true, priority: 0 }], ["POST", "/api/v1/admin/keys", { tenant_id: "viewer" }], ["PUT", "/api/v1/admin/guardrails", {}], ["DELETE", "/v1/cache", undefined]] as const) {
        const r = await admin(method, path, body, vkey);
        if (path === "/v1/cache") expect(r.status).toBe(200); // a key may purge its own tenant's cache (docs/cache.md)
        else expect([401, 403]).toContain(r.status);
      }
      expect(problems).toEqual([]);
      await context.close();
    }, 60_000);
  });
}
