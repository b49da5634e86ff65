/**
 * Operators' plugins end to end: a gateway loads plugins from a temporary directory. Broken
 * plugins are reported and left out, failing and hanging hooks follow their policy (inline and
 * worker), a worker over its memory limit is terminated, a breaker opens and closes — and in
 * every case the gateway keeps serving.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { adminHeaders, startTestGateway, type TestGateway, waitFor } from "../helpers/gateway.ts";
import { chatBody, folderPlugin, LEGACY_API, pluginsDir, rawFile } from "./fixtures.ts";

const dir = pluginsDir();
let gw: TestGateway;

const last = `(ctx) => String(ctx.request.messages.at(-1)?.content ?? "")`;
const append = (suffix: string) => `ctx.request = { ...ctx.request, messages: [...ctx.request.messages.slice(0, -1), { role: "user", content: String(ctx.request.messages.at(-1).content) + ${suffix} }] };`;

beforeAll(async () => {
  folderPlugin(dir, "tagger", `{ name: "tagger", version: "1.2.0", phases: ["inspect"], settings: Type.Object({ tag: Type.String({ default: "tagged", maxLength: 20 }) }) }`, `{
    inspect(ctx) {
      if (!(${last})(ctx).includes("tag-me")) return;
      ${append("` [${ctx.settings.tag}]`")}
      ctx.emit({ type: "tagged", payload: { tag: ctx.settings.tag } });
    },
  }`);
  folderPlugin(dir, "bad-manifest", `{ name: "bad-manifest", phases: ["inspect"] }`, `{ inspect() {} }`);
  folderPlugin(dir, "import-error", `{ name: "import-error", version: "1", phases: ["inspect"] }`, `{ inspect() {} }`, `throw new Error("boom at import");`);
  folderPlugin(dir, "worker-import-error", `{ name: "worker-import-error", version: "1", phases: ["inspect"], isolation: "worker" }`, `{ inspect() {} }`, `throw new Error("boom in the worker");`);
  folderPlugin(dir, "worker-missing-hook", `{ name: "worker-missing-hook", version: "1", phases: ["inspect", "onEnd"], isolation: "worker" }`, `{ inspect() {} }`);
  folderPlugin(dir, "bad-defaults", `{ name: "bad-defaults", version: "1", phases: ["inspect"], settings: Type.Object({ n: Type.Integer({ minimum: 5, default: 1 }) }) }`, `{ inspect() {} }`);
  rawFile(dir, "old-no-version.ts", `export default { name: "old-no-version", phases: {} };\n`);
  rawFile(dir, "old-style.ts", `import { definePlugin } from "${LEGACY_API}";\nexport default definePlugin({ name: "old-style", version: "1", phases: { inspect(ctx) { if (String(ctx.request.messages.at(-1).content).includes("old-hang")) return new Promise(() => {}); } } });\n`);
  folderPlugin(dir, "thrower", `{ name: "thrower", version: "1", phases: ["inspect"] }`, `{ inspect(ctx) { if ((${last})(ctx).includes("throw-open")) throw new TypeError("plugin bug"); } }`);
  folderPlugin(dir, "closed", `{ name: "closed", version: "1", phases: ["inspect"], failurePolicy: "fail-closed" }`, `{ inspect(ctx) { if ((${last})(ctx).includes("closed-fail")) throw new Error("plugin bug"); } }`);
  folderPlugin(dir, "refuser", `{ name: "refuser", version: "1", phases: ["inspect"] }`, `{ inspect(ctx) { if ((${last})(ctx).includes("refuse-me")) throw refuse(403, "refused_by_policy", "Not allowed here"); } }`);
  folderPlugin(dir, "hanger", `{ name: "hanger", version: "1", phases: ["inspect"], timeoutMs: 100 }`, `{ inspect(ctx) { if ((${last})(ctx).includes("hang-inline")) return new Promise(() => {}); } }`);
  folderPlugin(dir, "worker-hanger", `{ name: "worker-hanger", version: "1", phases: ["inspect"], isolation: "worker", timeoutMs: 2000 }`, `{ inspect(ctx) { if ((${last})(ctx).includes("hang-worker")) { for (;;) {} } if ((${last})(ctx).includes("throw-worker")) throw new RangeError("worker bug"); ${append('" [via worker]"')} } }`);
  folderPlugin(dir, "worker-hog", `{ name: "worker-hog", version: "1", phases: ["inspect"], isolation: "worker", timeoutMs: 10000, memoryLimitMb: 64 }`, `{ inspect(ctx) { if ((${last})(ctx).includes("hog")) { const keep = []; for (;;) keep.push(new Array(1e6).fill(7)); } } }`);
  folderPlugin(dir, "answerer", `{ name: "answerer", version: "1", phases: ["lookup"] }`, `{ lookup(ctx) {
    if (!(${last})(ctx).includes("answer-early")) return;
    return { id: "chatcmpl-plugin", object: "chat.completion", created: 1, model: "plugin", choices: [{ index: 0, message: { role: "assistant", content: "from the plugin" }, finish_reason: "stop" }], usage: { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 } };
  } }`);
  folderPlugin(dir, "worker-hog-async", `{ name: "worker-hog-async", version: "1", phases: ["inspect"], isolation: "worker", timeoutMs: 20000, memoryLimitMb: 48 }`, `{ async inspect(ctx) { if ((${last})(ctx).includes("slow-leak")) { const keep = []; for (;;) { keep.push(new Array(5e4).fill(7)); await new Promise((r) => setTimeout(r, 5)); } } } }`);
  folderPlugin(dir, "flaky", `{ name: "flaky", version: "1", phases: ["inspect"] }`, `{ inspect(ctx) { if ((${last})(ctx).includes("flaky")) throw new Error("down"); } }`);
  gw = await startTestGateway({ TOLLGATE_PLUGINS_DIR: dir }, { pluginBreaker: { failuresToOpen: 3, openMs: 300 } });
}, 60_000);

afterAll(async () => {
  await gw?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function chat(content: string) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(chatBody(content)) });
  const body = (await res.json()) as { choices?: { message: { content: string } }[]; error?: { code: string } };
  return { status: res.status, text: body.choices?.[0]?.message.content, code: body.error?.code };
}
async function listing() {
  const res = await fetch(`${gw.url}/api/v1/admin/plugins`, { headers: adminHeaders() });
  return (await res.json()) as { data: Record<string, any>[]; failed: { name: string; reason: string }[] };
}
const failedEvents = async (plugin: string) => (await gw.events()).filter((e) => e.type === "plugin.failed" && e.payload.plugin === plugin);

describe("loading", () => {
  test("a valid plugin loads, changes the request, emits a namespaced event", async () => {
    const r = await chat("please tag-me");
    expect(r.status).toBe(200);
    expect(r.text).toBe("please tag-me [tagged] [via worker]");
    const ev = (await gw.events()).find((e) => e.type === "plugin.tagger.tagged");
    expect(ev?.payload).toEqual({ tag: "tagged" });
  });

  test("a broken manifest, an import error, invalid default settings and a bad single file are reported, not fatal", async () => {
    const { failed, data } = await listing();
    const reasons = Object.fromEntries(failed.map((f) => [f.name, f.reason]));
    expect(reasons["bad-manifest"]).toContain("version");
    expect(reasons["import-error"]).toContain("boom at import");
    expect(reasons["bad-defaults"]).toContain("invalid default settings");
    expect(reasons["old-no-version"]).toContain("version");
    expect(reasons["worker-import-error"]).toContain("boom in the worker");
    expect(reasons["worker-missing-hook"]).toContain("onEnd");
    expect(data.map((p) => p.name)).not.toContain("import-error");
    const loadFailures = (await gw.events()).filter((e) => e.type === "plugin.failed" && e.payload.stage === "load").map((e) => e.payload.plugin);
    expect(loadFailures).toEqual(expect.arrayContaining(["bad-manifest", "import-error", "bad-defaults", "old-no-version"]));
    expect((await chat("still serving")).status).toBe(200);
  });
});

describe("answering early", () => {
  test("a hook may answer: JSON for a plain request, SSE for a streaming one; recorded as answeredBy", async () => {
    expect(await chat("answer-early")).toMatchObject({ status: 200, text: "from the plugin" });
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...chatBody("answer-early"), stream: true }) });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const sse = await res.text();
    expect(sse).toContain('"content":"from the plugin"');
    expect(sse).toContain("data: [DONE]");
    const done = (await gw.events()).filter((e) => e.type === "request.completed" && e.payload.answeredBy === "answerer");
    expect(done).toHaveLength(2);
  });
});

describe("failures follow the policy", () => {
  test("fail-open: a throwing hook is skipped and recorded", async () => {
    const r = await chat("throw-open");
    expect(r.status).toBe(200);
    expect(r.text).toBe("throw-open [via worker]");
    const [ev] = await failedEvents("thrower");
    expect(ev?.payload).toMatchObject({ hook: "inspect", reason: "error", error: "TypeError", policy: "fail-open" });
    expect(JSON.stringify(ev)).not.toContain("throw-open"); // no prompt text in the event
  });

  test("fail-open in a worker: the error crosses the thread as a failure, the worker stays up", async () => {
    const r = await chat("throw-worker");
    expect(r).toMatchObject({ status: 200, text: "throw-worker" });
    expect((await failedEvents("worker-hanger"))[0]?.payload).toMatchObject({ reason: "error", error: "RangeError" });
    expect((await listing()).data.find((x) => x.name === "worker-hanger")!.restarts).toBe(0);
  });

  test("fail-closed: 503 plugin_failed", async () => {
    const r = await chat("closed-fail");
    expect(r).toMatchObject({ status: 503, code: "plugin_failed" });
    expect((await chat("fine again")).status).toBe(200);
  });

  test("a refusal (refuse()) is the client's error, not a plugin failure", async () => {
    expect(await chat("refuse-me")).toMatchObject({ status: 403, code: "refused_by_policy" });
    expect(await failedEvents("refuser")).toHaveLength(0);
  });

  test("inline hang: the hook times out, the request goes on", async () => {
    const r = await chat("hang-inline");
    expect(r.status).toBe(200);
    const [ev] = await failedEvents("hanger");
    expect(ev?.payload).toMatchObject({ reason: "timeout" });
  });

  test("single-file plugin hang: guarded too (the old form keeps working)", async () => {
    expect((await chat("old-hang")).status).toBe(200);
    expect((await failedEvents("old-style"))[0]?.payload).toMatchObject({ reason: "timeout" });
  }, 10_000);

  test("worker hang: the worker is terminated and restarted, later requests use the new one", async () => {
    // While the worker spins, the gateway's own thread keeps answering.
    const hung = chat("hang-worker");
    const health = await fetch(`${gw.url}/health`);
    expect(health.status).toBe(200);
    expect((await hung).status).toBe(200);
    expect((await failedEvents("worker-hanger")).at(-1)?.payload).toMatchObject({ reason: "timeout" });
    const next = await chat("after the hang");
    expect(next.text).toBe("after the hang [via worker]");
    const p = (await listing()).data.find((x) => x.name === "worker-hanger")!;
    expect(p.restarts).toBe(1);
  }, 20_000);

  test("worker allocating without bound: terminated at its memory limit, the gateway serves on", async () => {
    const r = await chat("hog");
    expect(r.status).toBe(200);
    expect((await failedEvents("worker-hog"))[0]?.payload).toMatchObject({ reason: "memory" });
    expect((await chat("after that one")).status).toBe(200);
    const hog = (await listing()).data.find((x) => x.name === "worker-hog")!;
    expect(hog.restarts).toBe(1);
  }, 30_000);
});

describe("memory, the slow way", () => {
  test("a worker leaking between awaits is stopped by its own heap report", async () => {
    const r = await chat("slow-leak");
    expect(r.status).toBe(200);
    const [ev] = await failedEvents("worker-hog-async");
    expect(ev?.payload).toMatchObject({ reason: "memory" });
    const p = (await listing()).data.find((x) => x.name === "worker-hog-async")!;
    expect(p.last_errors[0].message).toContain("heap");
  }, 30_000);
});

describe("breaker", () => {
  test("opens after repeated failures (plugin switched off), closes when a trial succeeds", async () => {
    for (let i = 0; i < 3; i++) expect((await chat("flaky")).status).toBe(200);
    let p = (await listing()).data.find((x) => x.name === "flaky")!;
    expect(p.breaker.state).toBe("open");
    expect(p.status).toBe("switched_off");
    expect(p.failures).toBe(3);
    expect((await chat("flaky")).status).toBe(200); // not called while open
    expect((await listing()).data.find((x) => x.name === "flaky")!.failures).toBe(3);
    await Bun.sleep(350);
    expect((await chat("healthy now")).status).toBe(200); // the trial call succeeds
    p = (await listing()).data.find((x) => x.name === "flaky")!;
    expect(p.breaker.state).toBe("closed");
    const types = (await gw.events()).filter((e) => e.payload.plugin === "flaky").map((e) => e.type);
    expect(types).toContain("plugin.breaker_opened");
    expect(types).toContain("plugin.breaker_closed");
  });

  test("the listing has version, timings and last errors", async () => {
    const p = (await listing()).data.find((x) => x.name === "tagger")!;
    expect(p).toMatchObject({ version: "1.2.0", isolation: "inline", failure_policy: "fail-open", enabled: { default: true } });
    expect(p.timings.inspect.calls).toBeGreaterThan(5);
    expect(p.timings.inspect.p99_ms).toBeGreaterThanOrEqual(p.timings.inspect.p50_ms);
    const t = (await listing()).data.find((x) => x.name === "thrower")!;
    expect(t.last_errors[0]).toMatchObject({ hook: "inspect", reason: "error", error: "TypeError" });
  });
});
