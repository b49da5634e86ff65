/**
 * /swagger renders in a real browser with every request outside the gateway blocked: the UI
 * bundle and the spec come from the gateway itself.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser } from "playwright-core";
import { chromiumMissing, launchBrowser } from "../helpers/browser.ts";
import { availableOrFail } from "../helpers/services.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const ARTIFACTS = resolve(import.meta.dir, "../../.test-artifacts");

if (availableOrFail("swagger UI in a browser", "chromium", chromiumMissing())) {
  let gw: TestGateway;
  let browser: Browser;
  beforeAll(async () => {
    gw = await startTestGateway();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.dispose();
  });

  describe("swagger UI in a browser", () => {
    test("renders the API reference offline (everything not from the gateway is blocked)", async () => {
      const page = await browser.newPage();
      const blocked: string[] = [];
      await page.route("**/*", (route) => {
        const url = route.request().url();
        if (url.startsWith(gw.url)) return route.continue();
        blocked.push(url);
        return route.abort();
      });
      await page.goto(`${gw.url}/swagger`, { waitUntil: "load" });
      // Scalar renders the operations from /swagger/json.
      await page.getByText("Create a chat completion").first().waitFor({ timeout: 30_000 });
      const text = await page.locator("body").innerText();
      expect(text).toContain("Tollgate");
      for (const group of ["Simple API", "Operations", "Admin: providers", "Admin: config"]) expect(text).toContain(group);
      expect(text).toContain("/v1/chat/completions");
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: resolve(ARTIFACTS, "swagger.png"), fullPage: false });
      console.log(`[swagger] rendered; ${blocked.length} outside request(s) blocked: ${blocked.slice(0, 3).join(", ")}`);
      await page.close();
    }, 60_000);
  });
}
