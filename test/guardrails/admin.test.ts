/**
 * Guardrail settings through the admin API: validation (400 with `param`, nothing appended),
 * RE2-only regexes, tenant over global, history and time travel, content rules, input size,
 * and a 4 MiB prompt.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { adminHeaders, post, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_MAX_BODY_BYTES: String(16 << 20) });
});
afterAll(() => gw?.dispose());

const put = (path: string, body: unknown) => fetch(`${gw.url}${path}`, { method: "PUT", headers: adminHeaders(), body: JSON.stringify(body) });
const get = async (path: string) => (await fetch(`${gw.url}${path}`, { headers: adminHeaders() })).json() as Promise<Record<string, any>>;
const chat = (content: string) => post(`${gw.url}/v1/chat/completions`, { model: "echo", messages: [{ role: "user", content }] });
const echoed = async (res: Response) => ((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content;
const configEvents = async () => (await gw.events("config")).length;

describe("configuration", () => {
  test("default is off: nothing is rewritten until configured", async () => {
    const g = await get("/api/v1/admin/guardrails");
    expect(g.configured).toBeNull();
    expect(g.effective.pii.action).toBe("off");
    expect(await echoed(await chat("mail jane@example.com"))).toBe("mail jane@example.com");
  });

  test.each([
    [{ pii: { action: "mask" } }, "pii.action"],
    [{ pii: { types: ["email", "passport"] } }, "pii.types.1"],
    [{ pii: { actions: { card: "explode" } } }, "pii.actions.card"],
    [{ blocklist: [{ pattern: "x", kind: "glob", action: "block", direction: "input" }] }, "blocklist.0.kind"],
    [{ max_input_chars: 0 }, "max_input_chars"],
    [{ surprise: true }, null],
  ])("invalid body %j → 400 with param %s, nothing appended", async (body, param) => {
    const before = await configEvents();
    const res = await put("/api/v1/admin/guardrails", body);
    expect(res.status).toBe(400);
    const err = ((await res.json()) as { error: { param: string | null; code: string } }).error;
    if (param) expect(err.param).toBe(param);
    expect(await configEvents()).toBe(before);
  });

  test.each([
    ["(\\w+)\\s+\\1", "backreference"],
    ["(?=secret)\\w+", "lookahead"],
    ["(?<!x)y", "lookbehind"],
    ["a{5000}", "huge repeat"],
    ["a*", "matches empty"],
    ["(", "syntax"],
  ])("blocklist regex %s (%s) → 400 invalid_config, nothing appended", async (pattern) => {
    const before = await configEvents();
    const res = await put("/api/v1/admin/guardrails", { blocklist: [{ pattern, kind: "regex", action: "block", direction: "both" }] });
    expect(res.status).toBe(400);
    const err = ((await res.json()) as { error: { param: string; code: string } }).error;
    expect(err).toMatchObject({ code: "invalid_config", param: "blocklist.0.pattern" });
    expect(await configEvents()).toBe(before);
  });

  test("a classic catastrophic-backtracking pattern is linear under RE2: accepted, and scanning stays bounded", async () => {
    expect((await put("/api/v1/admin/guardrails", { blocklist: [{ pattern: "(a+)+$x", kind: "regex", action: "block", direction: "input" }] })).status).toBe(200);
    // (Words, not one 200k-character run: the token counter, not the scan, is superlinear on one huge word.)
    const t0 = performance.now();
    const res = await chat(("a".repeat(64) + "\n").repeat(3000) + "!");
    expect(res.status).toBe(200); // a backtracking engine would run for ages on `(a+)+$x` here
    console.log(`(a+)+$x over 195 KB: request answered in ${(performance.now() - t0).toFixed(0)} ms`);
  });

  test("tenant settings override the global ones; GET shows the effective policy; unknown tenant → 404", async () => {
    await put("/api/v1/admin/guardrails", { pii: { action: "redact", allow: ["support@acme.test"] }, max_input_chars: 1000 });
    expect((await fetch(`${gw.url}/api/v1/admin/tenants`, { method: "POST", headers: adminHeaders(), body: JSON.stringify({ id: "acme", name: "Acme" }) })).status).toBe(201);
    const res = await put("/api/v1/admin/tenants/acme/guardrails", { pii: { actions: { email: "block" } }, fail_mode: "open" });
    expect(res.status).toBe(200);
    const t = await get("/api/v1/admin/tenants/acme/guardrails");
    expect(t.effective).toMatchObject({ pii: { action: "redact", actions: { email: "block" }, allow: ["support@acme.test"] }, max_input_chars: 1000, fail_mode: "open" });
    expect((await put("/api/v1/admin/tenants/nope/guardrails", {})).status).toBe(404);
    expect((await fetch(`${gw.url}/api/v1/admin/tenants/nope/guardrails`, { headers: adminHeaders() })).status).toBe(404);
    // The default tenant follows the global settings: allow-listed values stay.
    expect(await echoed(await chat("write support@acme.test or bob@example.com"))).toBe("write support@acme.test or [EMAIL_1]");
  });

  test("history and time travel", async () => {
    const t0 = new Date();
    await Bun.sleep(5);
    await put("/api/v1/admin/guardrails", { pii: { action: "block" } });
    const hist = await get("/api/v1/admin/config/history?entity=guardrails&id=global");
    expect(hist.data.length).toBeGreaterThanOrEqual(2);
    const then = await get(`/api/v1/admin/config?at=${encodeURIComponent(t0.toISOString())}`);
    const globalThen = then.guardrails.find((g: { id: string }) => g.id === "global");
    expect(globalThen.pii.action).toBe("redact");
    expect((await get("/api/v1/admin/guardrails")).configured.pii.action).toBe("block");
  });
});

describe("content rules and limits", () => {
  test("blocklist terms and regexes: block and redact, per direction", async () => {
    await put("/api/v1/admin/guardrails", {
      blocklist: [
        { pattern: "Project Falcon", kind: "term", action: "redact", direction: "both" },
        { pattern: "dự án bí mật", kind: "term", action: "block", direction: "input" },
        { pattern: "INC-[0-9]{6}", kind: "regex", action: "redact", direction: "input" },
        { pattern: "(?i)drop\\s+table", kind: "regex", action: "block", direction: "input" },
      ],
    });
    expect(await echoed(await chat("about project falcon and INC-123456"))).toBe("about [BLOCKED_1] and [BLOCKED_2]");
    const blocked = await chat("Đây là Dự án bí mật");
    expect(blocked.status).toBe(400);
    expect(((await blocked.json()) as { error: { code: string; types: string[] } }).error).toMatchObject({ code: "pii_blocked", types: ["blocklist"] });
    expect((await chat("please DROP   TABLE users")).status).toBe(400);
    expect(await echoed(await chat("projects falcon are fine"))).toBe("projects falcon are fine");
  });

  test("max_input_chars → 400 input_too_large", async () => {
    await put("/api/v1/admin/guardrails", { max_input_chars: 50 });
    const res = await chat("x".repeat(51));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string; param: string } }).error).toMatchObject({ code: "input_too_large", param: "messages" });
    expect((await chat("x".repeat(50))).status).toBe(200);
  });

  test("a 4 MiB prompt: refused by max_input_chars, or scanned whole and redacted", async () => {
    const big = ("lorem ipsum 4111 1111 1111 1111 dolor sit amet jane@example.com ".repeat(70_000)).slice(0, 4 << 20);
    await put("/api/v1/admin/guardrails", { pii: { action: "redact" }, max_input_chars: 1_000_000 });
    const refused = await chat(big);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("input_too_large");
    await put("/api/v1/admin/guardrails", { pii: { action: "redact" } });
    const res = await chat(big);
    expect(res.status).toBe(200);
    const out = await echoed(res);
    expect(out).not.toContain("4111 1111 1111 1111");
    expect(out).not.toContain("jane@example.com");
    expect(out).toContain("[CARD_1]");
  }, 60_000);
});
