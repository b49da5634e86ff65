import { describe, expect, test } from "bun:test";
import type { ChatCompletionChunk } from "../../src/canonical/chat.ts";
import { errors, GatewayError } from "../../src/pipeline/errors.ts";
import { definePlugin, type Plugin } from "../../src/pipeline/plugin.ts";
import { orderPlugins, Pipeline } from "../../src/pipeline/runner.ts";
import { countTextTokens } from "../../src/providers/tokens.ts";
import { chunk, collect, completedEvent, completion, testCtx } from "./helpers.ts";

/** A plugin that records each phase it passes through into `trace`. */
function tracer(name: string, trace: string[], extra: Partial<Plugin["phases"]> = {}, enforce?: "pre" | "post"): Plugin {
  const mark = (phase: string) => () => void trace.push(`${name}:${phase}`);
  return definePlugin({
    name,
    version: "1.0.0",
    ...(enforce ? { enforce } : {}),
    phases: {
      authenticate: mark("authenticate"),
      admit: mark("admit"),
      inspect: mark("inspect"),
      lookup: mark("lookup"),
      route: mark("route"),
      respond: mark("respond"),
      onEnd: mark("onEnd"),
      onError: mark("onError"),
      ...extra,
    },
  });
}

const answerer = (text = "hi", trace?: string[]) =>
  definePlugin({
    name: "answerer",
    version: "1.0.0",
    phases: {
      call: () => {
        trace?.push("answerer:call");
        return { kind: "response", response: completion(text) };
      },
    },
  });

const streamer = (pieces: string[], opts: { failAfter?: number; onReturn?: () => void } = {}) =>
  definePlugin({
    name: "streamer",
    version: "1.0.0",
    phases: {
      call: () => ({
        kind: "stream",
        chunks: (async function* () {
          try {
            for (let i = 0; i < pieces.length; i++) {
              if (opts.failAfter === i) throw errors.upstream("boom mid-stream");
              yield chunk(pieces[i]!);
            }
            yield chunk("", { choices: [], usage: { prompt_tokens: 7, completion_tokens: pieces.length, total_tokens: 7 + pieces.length } });
          } finally {
            opts.onReturn?.();
          }
        })(),
      }),
    },
  });

describe("Pipeline runner", () => {
  test("runs phases in order, plugins in load order within a phase", async () => {
    const trace: string[] = [];
    const p = new Pipeline([tracer("a", trace), tracer("b", trace), answerer("hi", trace)]);
    const { ctx, events } = testCtx();
    const result = await p.run(ctx);
    expect(result.kind).toBe("response");
    expect(trace).toEqual([
      "a:authenticate", "b:authenticate", "a:admit", "b:admit", "a:inspect", "b:inspect",
      "a:lookup", "b:lookup", "a:route", "b:route", "answerer:call", "a:respond", "b:respond", "a:onEnd", "b:onEnd",
    ]);
    expect(events.map((e) => e.type)).toEqual(["request.received", "request.completed"]);
    expect(completedEvent(events)).toMatchObject({ status: "ok", httpStatus: 200, inputTokens: 3, outputTokens: 2, answeredBy: "answerer" });
  });

  test("work an onEnd hook leaves running (ctx.after) does not hold the answer, and keeps the request active until done", async () => {
    let release!: () => void;
    const settled = new Promise<void>((r) => (release = r));
    const late = definePlugin({
      name: "late",
      version: "1.0.0",
      phases: { onEnd: (ctx) => void (ctx.after ??= []).push(settled) },
    });
    const p = new Pipeline([late, answerer()]);
    const { ctx, events } = testCtx();
    const result = await p.run(ctx);
    expect(result.kind).toBe("response");
    expect(events.at(-1)?.type).toBe("request.completed");
    expect(p.active).toBe(1); // a stop would wait for it
    release();
    await settled;
    await Bun.sleep(0);
    expect(p.active).toBe(0);
  });

  test("enforce: pre runs first and post last regardless of load order", () => {
    const trace: string[] = [];
    const ordered = orderPlugins([tracer("x", trace, {}, "post"), tracer("y", trace), tracer("z", trace, {}, "pre")]);
    expect(ordered.map((p) => p.name)).toEqual(["z", "y", "x"]);
  });

  test("records a timing for every phase that ran", async () => {
    const p = new Pipeline([answerer()]);
    const { ctx } = testCtx();
    await p.run(ctx);
    for (const phase of ["authenticate", "admit", "inspect", "lookup", "route", "call", "respond"]) {
      expect(typeof ctx.timings[phase]).toBe("number");
    }
  });

  test("an early answer skips the rest of the request phases and call, but respond and onEnd run", async () => {
    const trace: string[] = [];
    const cache = definePlugin({
      name: "cache",
      version: "1.0.0",
      phases: { lookup: () => ({ kind: "response", response: completion("from cache"), cached: true }) },
    });
    const p = new Pipeline([cache, tracer("t", trace), answerer("upstream", trace)]);
    const { ctx, events } = testCtx();
    const result = await p.run(ctx);
    expect(result).toMatchObject({ kind: "response", cached: true });
    if (result.kind === "response") expect(result.response.choices[0]!.message.content).toBe("from cache");
    expect(trace).toEqual(["t:authenticate", "t:admit", "t:inspect", "t:respond", "t:onEnd"]);
    expect(completedEvent(events)).toMatchObject({ status: "ok", cached: true, answeredBy: "cache" });
  });

  for (const phase of ["authenticate", "admit", "inspect", "lookup", "route", "call", "respond"] as const) {
    test(`a GatewayError thrown in ${phase} stops the pipeline, runs onError and onEnd, is recorded`, async () => {
      const trace: string[] = [];
      const thrower = definePlugin({
        name: "thrower",
        version: "1.0.0",
        phases: { [phase]: () => { throw new GatewayError({ status: 418, code: `bad_${phase}`, message: "nope" }); } },
      });
      const p = new Pipeline([tracer("t", trace), thrower, answerer("x", trace)]);
      const { ctx, events } = testCtx();
      const err = await p.run(ctx).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).code).toBe(`bad_${phase}`);
      expect(trace).toContain("t:onError");
      expect(trace.at(-1)).toBe("t:onEnd");
      const order = ["authenticate", "admit", "inspect", "lookup", "route", "call", "respond"];
      // Nothing after the failing phase ran (except onError/onEnd).
      for (const later of order.slice(order.indexOf(phase) + 1)) expect(trace).not.toContain(`t:${later}`);
      expect(completedEvent(events)).toMatchObject({ status: "error", httpStatus: 418, errorCode: `bad_${phase}` });
    });
  }

  test("a non-Gateway error becomes a 500 internal_error; a throwing onError hook does not mask it", async () => {
    const bad = definePlugin({ name: "bad", version: "1", phases: { inspect: () => { throw new TypeError("oops"); } } });
    const badOnError = definePlugin({ name: "bad-onerror", version: "1", phases: { onError: () => { throw new Error("hook broke"); } } });
    const seen: string[] = [];
    const observer = definePlugin({ name: "observer", version: "1", phases: { onError: (_ctx, e) => void seen.push(e.code) } });
    const p = new Pipeline([badOnError, observer, bad, answerer()]);
    const { ctx, events } = testCtx();
    const err = (await p.run(ctx).catch((e) => e)) as GatewayError;
    expect(err.status).toBe(500);
    expect(err.code).toBe("internal_error");
    expect(err.toBody().error).toMatchObject({ code: "internal_error", type: "server_error" });
    expect(seen).toEqual(["internal_error"]);
    expect(completedEvent(events)).toMatchObject({ status: "error", errorCode: "internal_error" });
  });

  test("no plugin answering is a 500 no_answer, not a hang", async () => {
    const p = new Pipeline([]);
    const { ctx } = testCtx();
    expect(((await p.run(ctx).catch((e) => e)) as GatewayError).code).toBe("no_answer");
  });

  test("hooks can change the request before the call (the provider sees the result)", async () => {
    let seen = "";
    const redact = definePlugin({
      name: "redact",
      version: "1",
      phases: { inspect: (ctx) => void (ctx.request.messages[0]!.content = "[REDACTED]") },
    });
    const call = definePlugin({
      name: "call",
      version: "1",
      phases: { call: (ctx) => ((seen = String(ctx.request.messages[0]!.content)), { kind: "response", response: completion("ok") }) },
    });
    await new Pipeline([redact, call]).run(testCtx().ctx);
    expect(seen).toBe("[REDACTED]");
  });

  test("duplicate plugin names are refused", () => {
    expect(() => new Pipeline([answerer(), answerer()])).toThrow(/twice/);
  });

  test("definePlugin rejects unknown phases and non-function hooks", () => {
    expect(() => definePlugin({ name: "x", version: "1", phases: { nonsense: () => {} } as never })).toThrow(/unknown phase/);
    expect(() => definePlugin({ name: "x", version: "1", phases: { inspect: 3 } as never })).toThrow(/must be a function/);
    expect(() => definePlugin({ name: "", version: "1", phases: {} })).toThrow(/name/);
  });
});

describe("Pipeline runner: streams", () => {
  test("chunks pass through onChunk hooks in order; usage comes from the final chunk", async () => {
    const upper = definePlugin({
      name: "upper",
      version: "1",
      phases: {
        onChunk: (_ctx, c) => ({ ...c, choices: c.choices.map((ch) => ({ ...ch, delta: { ...ch.delta, content: ch.delta.content?.toUpperCase() } })) }),
      },
    });
    const dropB = definePlugin({
      name: "drop-b",
      version: "1",
      phases: { onChunk: (_ctx, c) => (c.choices[0]?.delta.content === "B" ? null : c) },
    });
    const p = new Pipeline([streamer(["a", "b", "c"]), upper, dropB]);
    const { ctx, events } = testCtx({}, { stream: true });
    const result = await p.run(ctx);
    if (result.kind !== "stream") throw new Error("expected a stream");
    const chunks = await collect(result.chunks);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "<usage>")).toEqual(["A", "C", "<usage>"]);
    expect(completedEvent(events)).toMatchObject({ status: "ok", inputTokens: 7, outputTokens: 3, stream: true });
    expect(typeof completedEvent(events).ttftMs).toBe("number");
  });

  test("an error before the first chunk rejects run() (the client still gets a proper status)", async () => {
    const p = new Pipeline([streamer(["a"], { failAfter: 0 })]);
    const { ctx, events } = testCtx({}, { stream: true });
    const err = (await p.run(ctx).catch((e) => e)) as GatewayError;
    expect(err.code).toBe("upstream_error");
    expect(completedEvent(events)).toMatchObject({ status: "error", errorCode: "upstream_error" });
  });

  test("an error mid-stream is thrown by the iterator and recorded with the tokens streamed so far", async () => {
    const p = new Pipeline([streamer(["one ", "two ", "three"], { failAfter: 2 })]);
    const { ctx, events } = testCtx({}, { stream: true });
    const result = await p.run(ctx);
    if (result.kind !== "stream") throw new Error("expected a stream");
    const got: ChatCompletionChunk[] = [];
    const err = await (async () => {
      for await (const c of result.chunks) got.push(c);
    })().catch((e) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect(got).toHaveLength(2);
    const done = completedEvent(events);
    expect(done).toMatchObject({ status: "error", errorCode: "upstream_error" });
    expect(done.outputTokens).toBe(countTextTokens("one two "));
    expect(done.inputTokens as number).toBeGreaterThan(0);
  });

  test("a consumer that stops early (client gone) closes the upstream and records client_disconnected", async () => {
    let closed = false;
    const p = new Pipeline([streamer(["alpha ", "beta ", "gamma ", "delta"], { onReturn: () => (closed = true) })]);
    const { ctx, events } = testCtx({}, { stream: true });
    const result = await p.run(ctx);
    if (result.kind !== "stream") throw new Error("expected a stream");
    await result.chunks.next();
    await result.chunks.next();
    await result.chunks.return?.(undefined);
    expect(closed).toBe(true);
    const done = completedEvent(events);
    expect(done).toMatchObject({ status: "client_disconnected", httpStatus: 499 });
    expect(done.outputTokens).toBe(countTextTokens("alpha beta "));
  });
});
