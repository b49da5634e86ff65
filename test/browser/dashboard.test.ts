/**
 * The usage page (/console/usage; /dashboard redirects there) in a real browser (headless Chromium), with every request outside the gateway
 * blocked: the page, its script and style and Chart.js all come from the gateway, and the numbers
 * it draws are the usage API's. History is seeded two ways: real requests through
 * /v1/chat/completions (three tenants, each with a virtual key) and request.completed events
 * appended to the log, spread over the past week (several providers, models, services; errors,
 * cache hits, a range of latencies). One analytics-on gateway for the whole file (chDB holds one
 * data directory per process).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { DASHBOARD_CSP } from "../../src/api/dashboard.ts";
import { makeEvent } from "../../src/events/envelope.ts";
import { chromiumMissing, launchBrowser } from "../helpers/browser.ts";
import { availableOrFail } from "../helpers/services.ts";
import { post, startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";

const ARTIFACTS = resolve(import.meta.dir, "../../.test-artifacts");
const ADMIN = "dashboard-test-admin-key-0123456789";
const TENANTS = ["acme", "globex", "initech"] as const;
const CHARTS = ["cost-requests", "customers", "tenants", "providers", "models", "services", "latency", "cache", "errors"] as const;
const HEADLINES = ["requests", "cost_usd", "tokens", "cache_hit_rate", "error_rate", "p95_ms"] as const;
const DAY_MS = 86_400_000;

interface Metrics {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  cost_usd: number;
  cache_hit_rate: number;
  error_rate: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
}
type Row = Metrics & Record<string, unknown>;

/** One history event: what the pipeline's completedPayload records for a finished request. */
function historyEvent(i: number, now: number) {
  const routes = [
    ["openai", "gpt-4o-mini", 0.15, 0.6],
    ["anthropic", "claude-3-5-haiku", 0.8, 4],
    ["gemini", "gemini-1.5-flash", 0.075, 0.3],
    ["openai", "gpt-4o", 2.5, 10],
  ] as const;
  const [provider, model, inPrice, outPrice] = routes[i % routes.length]!;
  const tenant = TENANTS[i % TENANTS.length]!;
  const error = i % 7 === 3;
  const cached = !error && i % 5 === 1;
  const inputTokens = 200 + ((i * 137) % 1800);
  const outputTokens = error ? 0 : 50 + ((i * 89) % 700);
  const costUsd = error || cached ? 0 : (inputTokens * inPrice + outputTokens * outPrice) / 1e6;
  // Spread over the past 6.5 days, so the events stay inside "7 days" while the test runs.
  const time = new Date(now - 3_600_000 - ((i * 6.5 * DAY_MS) / 60) - (i % 3) * 600_000);
  return makeEvent({
    type: "request.completed",
    tenant,
    requestId: `seed-${i}`,
    time,
    payload: {
      status: error ? "error" : "ok",
      httpStatus: error ? 502 : 200,
      errorCode: error ? "provider_error" : null,
      errorMessage: error ? "upstream answered 502" : null,
      endpoint: "chat.completions",
      operation: "chat",
      stream: i % 2 === 0,
      requestedModel: model,
      provider,
      model,
      answeredBy: cached ? "cache" : provider,
      cached,
      inputTokens,
      outputTokens,
      cachedTokens: cached ? inputTokens : 0,
      costUsd,
      latencyMs: cached ? 3 + (i % 4) : 120 + ((i * 263) % 2400),
      ttftMs: null,
      service: ["web", "batch", "support"][i % 3],
      keyId: null,
      keyPrefix: null,
      attempts: error ? 2 : 1,
      user: `cust-${i % 5}`, // end customers (user_id), across tenants
      taskType: null,
      timings: {},
    },
  });
}

if (availableOrFail("usage dashboard in a browser", "chromium", chromiumMissing())) {
  let gw: TestGateway;
  let firstRun: TestGateway; // analytics off, no TOLLGATE_ADMIN_KEY: the generated key (issue 22: never keyless)
  let browser: Browser;
  const keys: Record<string, string> = {};

  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const usage = async <T = { tenant: string | null; data: Metrics }>(path: string, key = ADMIN) =>
    (await (await fetch(`${gw.url}/api/v1/usage/${path}`, { headers: { authorization: `Bearer ${key}` } })).json()) as T;

  beforeAll(async () => {
    gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: ADMIN, TOLLGATE_ANALYTICS: "on" });
    for (const t of TENANTS) expect((await admin("POST", "/api/v1/admin/tenants", { id: t, name: t })).status).toBe(201);
    expect((await admin("POST", "/api/v1/prices", { id: "echo/echo", input: 1000, output: 2000 })).status).toBe(201);
    for (const [i, t] of TENANTS.entries()) {
      const r = await admin("POST", "/api/v1/admin/keys", { tenant_id: t, name: `${t}-key`, service: ["web", "batch", "support"][i] });
      expect(r.status).toBe(201);
      keys[t] = ((await r.json()) as { key: string }).key;
    }
    // Real traffic: a few requests per tenant through the gateway (model echo, priced).
    for (const [i, t] of TENANTS.entries()) {
      for (let n = 0; n <= i + 1; n++) {
        const r = await post(`${gw.url}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content: `hello from ${t}, request ${n} ${"word ".repeat(n * 5)}` }] }, { authorization: `Bearer ${keys[t]}` });
        expect(r.status).toBe(200);
      }
    }
    // History: a week of request.completed events.
    const now = Date.now();
    const history = Array.from({ length: 60 }, (_, i) => historyEvent(i, now));
    await gw.log.append("requests", history.map((event) => ({ key: event.tenant, event })));
    await waitFor(async () => gw.analytics?.status().state === "ready", 30_000, "analytics ready");
    const expected = (await gw.events()).filter((e) => e.type === "request.completed").length;
    expect(expected).toBe(60 + 2 + 3 + 4);
    await waitFor(async () => (await usage("summary?days=7")).data?.requests === expected, 30_000, "the projection caught up");

    firstRun = await startTestGateway({ TOLLGATE_ADMIN_KEY: "" });
    browser = await launchBrowser();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await firstRun?.dispose();
    await gw?.dispose();
  });

  /** A fresh tab (own sessionStorage) that blocks and records anything not from `origin`, and collects console errors. */
  async function openPage(origin: string): Promise<{ context: BrowserContext; page: Page; outside: string[]; errors: string[]; bytes: () => Promise<{ encoded: number; decoded: number; requests: number }> }> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, locale: "en-US", timezoneId: "UTC" });
    const page = await context.newPage();
    const outside: string[] = [];
    const errors: string[] = [];
    const done: Array<Promise<{ encoded: number; decoded: number }>> = [];
    await page.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(origin)) return route.continue();
      outside.push(url);
      return route.abort();
    });
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`${m.text()} @ ${m.location().url}`);
    });
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    page.on("requestfinished", (req) => {
      done.push(
        (async () => {
          const res = await req.response();
          const sizes = await req.sizes();
          return { encoded: sizes.responseBodySize, decoded: res ? (await res.body().catch(() => Buffer.alloc(0))).byteLength : 0 };
        })(),
      );
    });
    const bytes = async () => {
      const all = await Promise.all(done);
      return { encoded: all.reduce((a, s) => a + s.encoded, 0), decoded: all.reduce((a, s) => a + s.decoded, 0), requests: all.length };
    };
    return { context, page, outside, errors, bytes };
  }

  const waitState = (page: Page, ...states: string[]) =>
    page.waitForFunction((s) => s.includes((globalThis as unknown as { document: { body: { dataset: { state: string } } } }).document.body.dataset.state), states, { timeout: 30_000 });

  async function login(page: Page, key: string) {
    await page.locator("#key").fill(key);
    await page.locator("#login-form button[type=submit]").click();
  }

  interface ChartView {
    name: string;
    id: string;
    exists: boolean;
    type?: string;
    labels: string[];
    datasets: Array<{ label: string; data: Array<number | null> }>;
  }
  /** What Chart.js holds for every canvas of the page. */
  const charts = (page: Page): Promise<ChartView[]> =>
    page.evaluate(() => {
      // Browser globals, untyped here (the tsconfig has no DOM lib).
      const g = globalThis as any;
      return [...g.document.querySelectorAll("canvas[data-chart]")].map((canvas: any) => {
        const c = g.Chart?.getChart(canvas);
        return {
          name: canvas.dataset.chart,
          id: canvas.id,
          exists: Boolean(c),
          type: c?.config.type,
          labels: c ? [...c.data.labels].map(String) : [],
          datasets: c ? c.data.datasets.map((d: any) => ({ label: d.label, data: [...d.data] })) : [],
        };
      });
    });

  const headlines = (page: Page): Promise<Record<string, { value: string | undefined; text: string }>> =>
    page.evaluate(() => {
      const g = globalThis as any;
      const out: Record<string, { value: string | undefined; text: string }> = {};
      for (const el of g.document.querySelectorAll(".card[data-metric]")) out[el.dataset.metric] = { value: el.dataset.value, text: el.querySelector(".v").textContent };
      return out;
    });

  const hasPositive = (c: ChartView) => c.datasets.some((d) => d.data.some((v) => typeof v === "number" && v > 0));

  /** The headline cards show exactly the API's summary. */
  function expectHeadlines(h: Awaited<ReturnType<typeof headlines>>, s: Metrics) {
    expect(Number(h.requests!.value)).toBe(s.requests);
    expect(h.requests!.text).toBe(s.requests.toLocaleString("en-US"));
    expect(Number(h.cost_usd!.value)).toBe(s.cost_usd);
    expect(h.cost_usd!.text.startsWith("$")).toBe(true);
    expect(Number(h.tokens!.value)).toBe(s.input_tokens + s.output_tokens);
    expect(Number(h.cache_hit_rate!.value)).toBe(s.cache_hit_rate);
    expect(h.cache_hit_rate!.text).toBe(`${(s.cache_hit_rate * 100).toFixed(1)}%`);
    expect(Number(h.error_rate!.value)).toBe(s.error_rate);
    expect(h.error_rate!.text).toBe(`${(s.error_rate * 100).toFixed(1)}%`);
    expect(Number(h.p95_ms!.value)).toBe(s.p95_ms);
    expect(h.p95_ms!.text).toContain("ms");
  }

  /** The only console errors allowed: Chromium's report of the 401s the page expects (no key yet, a wrong key). */
  const unexpected = (errors: string[]) => errors.filter((e) => !(e.startsWith("Failed to load resource: the server responded with a status of 401") && e.includes(`${gw.url}/api/v1/usage/summary`)));

  describe("usage dashboard in a browser", () => {
    test("serves the page, its script and style and Chart.js itself, with a strict CSP and long-cached assets", async () => {
      const r = await fetch(`${gw.url}/console/usage`);
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(r.headers.get("content-security-policy")).toBe(DASHBOARD_CSP);
      expect(DASHBOARD_CSP).toContain("default-src 'none'");
      const html = await r.text();
      expect(html).not.toMatch(/https?:\/\//); // nothing from outside, not even a link
      const assets = [...html.matchAll(/<(?:script|link)\b[^>]*(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
      expect(assets).toHaveLength(3);
      for (const path of assets) {
        expect(path.startsWith("/dashboard/assets/")).toBe(true);
        const a = await fetch(`${gw.url}${path}`);
        expect(a.status).toBe(200);
        expect(a.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
        expect(a.headers.get("content-type")).toBe(path.includes(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8");
        const body = await a.text();
        if (path.includes("chart.umd")) expect(body).toContain("Chart.js v4");
      }
      expect((await fetch(`${gw.url}/dashboard/assets/nope.js`)).status).toBe(404);
      // The usage page is the console's now: its old URL redirects there, and it links back.
      const old = await fetch(`${gw.url}/dashboard`, { redirect: "manual" });
      expect(old.status).toBe(308);
      expect(old.headers.get("location")).toBe("/console/usage");
      expect(html).toContain('href="/console"');
    });

    test("without a key: the form, and no data on the page", async () => {
      const { context, page, outside, errors } = await openPage(gw.url);
      await page.goto(`${gw.url}/console/usage`, { waitUntil: "load" });
      await waitState(page, "login");
      expect(await page.locator("#login").isVisible()).toBe(true);
      expect(await page.locator("#content").isVisible()).toBe(false);
      expect(await page.locator("#login-error").isVisible()).toBe(false); // nothing typed yet: no error
      expect((await charts(page)).filter((c) => c.exists)).toEqual([]);
      for (const h of Object.values(await headlines(page))) expect(h.value).toBeUndefined();
      const text = await page.locator("body").innerText();
      expect(text).not.toContain("acme");
      expect(outside).toEqual([]);
      expect(unexpected(errors)).toEqual([]);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: resolve(ARTIFACTS, "dashboard-login.png") });
      await context.close();
    }, 60_000);

    test("a wrong key: the form again, with the API's error message", async () => {
      const { context, page, outside, errors } = await openPage(gw.url);
      await page.goto(`${gw.url}/console/usage`, { waitUntil: "load" });
      await waitState(page, "login");
      await login(page, "not-the-admin-key-at-all");
      await page.locator("#login-error").waitFor({ state: "visible", timeout: 30_000 });
      expect(await page.locator("#login-error").innerText()).toBe("Invalid admin key (invalid_admin_key)");
      await waitState(page, "login");
      expect(await page.locator("#content").isVisible()).toBe(false);
      expect(await page.evaluate(() => (globalThis as any).sessionStorage.getItem("tollgate.dashboard.key"))).toBeNull();
      // An unknown virtual key: the virtual-key error.
      await login(page, `tg-${"A".repeat(32)}`);
      await page.waitForFunction(() => (globalThis as any).document.getElementById("login-error").textContent.includes("invalid_api_key"), undefined, { timeout: 30_000 });
      expect(outside).toEqual([]);
      expect(unexpected(errors)).toEqual([]);
      await context.close();
    }, 60_000);

    test("with the admin key: every chart drawn from the API's numbers, nothing from outside, no console errors", async () => {
      // The provider attempts (SLA panel) land through the projection like the usage rows: wait for
      // them before the page loads, so the page and the API below read the same data.
      await waitFor(async () => (await usage<{ data: unknown[] }>("providers/sla?days=7&interval=day")).data.length > 0, 30_000, "the SLA rows");
      const { context, page, outside, errors, bytes } = await openPage(gw.url);
      await page.goto(`${gw.url}/console/usage`, { waitUntil: "load" });
      await waitState(page, "login");
      const beforeLogin = errors.length;
      await login(page, ADMIN);
      await waitState(page, "ready");

      // Every chart exists and holds data.
      const views = await charts(page);
      expect(views.map((c) => c.name).sort()).toEqual([...CHARTS].sort());
      for (const c of views) {
        expect(c.id, c.name).toBe(`chart-${c.name}`);
        expect(c.exists, c.name).toBe(true);
        expect(c.labels.length, c.name).toBeGreaterThan(0);
        expect(hasPositive(c), `${c.name} has a value > 0`).toBe(true);
      }
      const byName = Object.fromEntries(views.map((c) => [c.name, c]));

      // Headlines equal the API's summary; the charts carry the API's rows.
      const summary = await usage("summary?days=7");
      expect(summary.tenant).toBeNull();
      expect(summary.data.requests).toBe(69);
      expect(summary.data.error_rate).toBeGreaterThan(0);
      expect(summary.data.cache_hit_rate).toBeGreaterThan(0);
      expectHeadlines(await headlines(page), summary.data);
      expect(await page.locator("#tenant").getAttribute("data-tenant")).toBe("");

      // The same range the page asked for (its from/to), so a day boundary passing meanwhile changes nothing.
      const from = await page.locator("#content").getAttribute("data-from");
      const to = await page.locator("#content").getAttribute("data-to");
      const series = await usage<{ interval: string; data: Row[] }>(`timeseries?from=${from}&to=${to}`);
      expect(series.interval).toBe("day");
      const costRequests = byName["cost-requests"]!;
      expect(costRequests.labels).toHaveLength(series.data.length);
      expect(costRequests.datasets.find((d) => d.label === "Requests")!.data).toEqual(series.data.map((p) => p.requests));
      expect(costRequests.datasets.find((d) => d.label === "Cost (USD)")!.data).toEqual(series.data.map((p) => p.cost_usd));
      const latency = byName.latency!;
      expect(latency.datasets.map((d) => d.label)).toEqual(["p50", "p95", "p99"]);
      expect(latency.datasets[1]!.data).toEqual(series.data.map((p) => (p.requests ? p.p95_ms : null)));
      expect(byName.errors!.datasets[0]!.data).toEqual(series.data.map((p) => (p.requests ? p.error_rate * 100 : null)));
      expect(byName.cache!.datasets[0]!.data).toEqual(series.data.map((p) => (p.requests ? p.cache_hit_rate * 100 : null)));

      for (const [chart, path, field] of [
        ["customers", "by-customer", "user_id"],
        ["tenants", "by-tenant", "tenant"],
        ["providers", "by-provider", "provider"],
        ["models", "by-model", "model"],
        ["services", "by-service", "service"],
      ] as const) {
        const rows = (await usage<{ data: Row[] }>(`${path}?days=7&limit=10`)).data;
        expect(byName[chart]!.labels, chart).toEqual(rows.map((r) => String(r[field] || "(none)")));
        expect(byName[chart]!.datasets[0]!.data, chart).toEqual(rows.map((r) => r.cost_usd));
      }
      expect(byName.tenants!.labels.sort()).toEqual([...TENANTS]);
      expect(byName.customers!.labels.sort()).toEqual(["cust-0", "cust-1", "cust-2", "cust-3", "cust-4"]); // requests without a user_id are no customer
      expect(byName.providers!.labels.sort()).toEqual(["anthropic", "echo", "gemini", "openai"]);
      expect(await page.locator("#tenants-table tbody tr").count()).toBe(3);
      expect(await page.locator("#customers-table tbody tr").count()).toBe(5);
      // The provider SLA panel (issue 29): one row per day and provider/model the API reports.
      const sla = (await usage<{ data: Array<{ provider: string; model: string; attempts: number }> }>("providers/sla?days=7&interval=day")).data;
      expect(sla.length).toBeGreaterThan(0);
      expect(await page.locator("#sla-table tbody tr").count()).toBe(Math.min(sla.length, 30));
      expect(await page.locator("#sla-table tbody tr td").nth(2).textContent()).toBe(sla.at(-1)!.attempts.toLocaleString("en-US"));

      const weight = await bytes(); // the first view: page, assets, the key-less probe and the seven API answers
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: resolve(ARTIFACTS, "dashboard.png"), fullPage: true });

      // Another range: the page asks again and shows that range's numbers.
      await page.locator('#range button[data-days="1"]').click();
      await page.waitForFunction(() => (globalThis as any).location.hash === "#days=1" && (globalThis as any).document.body.dataset.state === "ready", undefined, { timeout: 30_000 });
      expectHeadlines(await headlines(page), (await usage("summary?days=1")).data);
      expect(await page.locator('#range button[data-days="1"]').getAttribute("aria-pressed")).toBe("true");

      // The admin narrows to one tenant.
      await page.locator('#range button[data-days="7"]').click();
      await waitState(page, "ready");
      await page.locator("#tenant-select").selectOption("globex");
      await page.waitForFunction(() => (globalThis as any).document.getElementById("tenant").dataset.tenant === "globex", undefined, { timeout: 30_000 });
      await waitState(page, "ready");
      expectHeadlines(await headlines(page), (await usage("summary?days=7&tenant=globex")).data);

      // The key stays for the tab: a reload goes straight to the data.
      await page.reload({ waitUntil: "load" });
      await waitState(page, "ready");
      expect(await page.locator("#login").isVisible()).toBe(false);

      expect(outside).toEqual([]);
      expect(unexpected(errors)).toEqual([]);
      expect(errors.length).toBe(beforeLogin); // once the key is in, not a single console error
      console.log(`[dashboard] rendered ${views.length} charts; ${weight.requests} requests, ${weight.encoded} bytes transferred (${weight.decoded} decoded); screenshot ${resolve(ARTIFACTS, "dashboard.png")}`);
      await context.close();
    }, 90_000);

    test("with a virtual key: that tenant's usage only, and the page says which tenant", async () => {
      const { context, page, outside, errors } = await openPage(gw.url);
      await page.goto(`${gw.url}/console/usage`, { waitUntil: "load" });
      await waitState(page, "login");
      await login(page, keys.acme!);
      await waitState(page, "ready");
      expect(await page.locator("#tenant").getAttribute("data-tenant")).toBe("acme");
      expect(await page.locator("#tenant").innerText()).toBe("acme");
      expect(await page.locator("#tenant-select").isVisible()).toBe(false);
      const own = await usage("summary?days=7", keys.acme!);
      expect(own.tenant).toBe("acme");
      expectHeadlines(await headlines(page), own.data);
      const views = await charts(page);
      for (const c of views) expect(hasPositive(c), c.name).toBe(true);
      expect(views.find((c) => c.name === "tenants")!.labels).toEqual(["acme"]);
      expect(views.find((c) => c.name === "customers")!.labels.length).toBeGreaterThan(0);
      expect(outside).toEqual([]);
      expect(unexpected(errors)).toEqual([]);
      await context.close();
    }, 60_000);

    test("named admins (issue 28): a tenant_admin sees its tenant only, an analyst every tenant; the page names the identity and role", async () => {
      const mk = async (name: string, role: string, tenant?: string) => ((await (await admin("POST", "/api/v1/admin/admins", { name, role, ...(tenant ? { tenant } : {}) })).json()) as { key: string }).key;
      const tenantAdmin = await mk("tina", "tenant_admin", "globex");
      const analyst = await mk("andy", "analyst");
      {
        const { context, page, outside, errors } = await openPage(gw.url);
        await page.goto(`${gw.url}/console/usage`, { waitUntil: "load" });
        await waitState(page, "login");
        await login(page, tenantAdmin);
        await waitState(page, "ready");
        expect(await page.locator("#tenant").getAttribute("data-tenant")).toBe("globex");
        expect(await page.locator("#tenant-select").isVisible()).toBe(false);
        await page.waitForFunction(() => (globalThis as any).document.body.dataset.role === "tenant_admin", undefined, { timeout: 10_000 });
        expect(await page.locator("#identity").innerText()).toBe("tina · tenant_admin (globex)");
        expect((await charts(page)).find((c) => c.name === "tenants")!.labels).toEqual(["globex"]);
        expect(outside).toEqual([]);
        expect(unexpected(errors)).toEqual([]);
        await context.close();
      }
      {
        const { context, page } = await openPage(gw.url);
        await page.goto(`${gw.url}/console/usage`, { waitUntil: "load" });
        await waitState(page, "login");
        await login(page, analyst);
        await waitState(page, "ready");
        await page.waitForFunction(() => (globalThis as any).document.body.dataset.role === "analyst", undefined, { timeout: 10_000 });
        expect(await page.locator("#identity").innerText()).toBe("andy · analyst");
        expect((await charts(page)).find((c) => c.name === "tenants")!.labels.sort()).toEqual([...TENANTS].sort());
        await context.close();
      }
    }, 60_000);

    test("first run (no TOLLGATE_ADMIN_KEY): the form asks for the generated key; analytics off is said plainly", async () => {
      const { context, page, outside, errors } = await openPage(firstRun.url);
      await page.goto(`${firstRun.url}/console/usage`, { waitUntil: "load" });
      // Never keyless, also on loopback: the page asks, and the key from <data dir>/admin.key signs in.
      await page.locator("#login").waitFor({ state: "visible", timeout: 30_000 });
      await login(page, firstRun.adminKey);
      await waitState(page, "unavailable");
      expect(await page.locator("#login").isVisible()).toBe(false);
      const notice = page.locator("#notice");
      expect(await notice.getAttribute("data-kind")).toBe("analytics_disabled");
      expect(await notice.innerText()).toContain("Analytics is off on this gateway.");
      expect(await notice.innerText()).toContain("TOLLGATE_ANALYTICS");
      expect(outside).toEqual([]);
      // Chromium reports the 401 (the keyless first try) and the 503 itself; nothing else.
      expect(errors.filter((e) => !/^Failed to load resource: the server responded with a status of (401|503)/.test(e))).toEqual([]);
      await context.close();
    }, 60_000);
  });
}
