/**
 * The explorer's end-to-end test in fleet mode: real Kafka and Redis, two gateway processes
 * (TOLLGATE_ANALYTICS=query, as docker-compose wires them) and the standalone projector
 * (`tollgate projections run usage`, which also keeps the request-id index) writing to a
 * ClickHouse-compatible server (chDB behind ClickHouse's HTTP interface). The traffic of the
 * embedded test is spread over both instances; every request is listed, opened and explained
 * through instance 1 — including those instance 2 answered — and a config change made on
 * instance 2 is reported by instance 1's explain with its history entry.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startFakeOpenAI, type FakeOpenAI } from "../fakes/openai-upstream.ts";
import { type FakeEmbeddings, startFakeEmbeddings, towards } from "../fakes/embeddings-upstream.ts";
import { waitFor } from "../helpers/gateway.ts";
import { freePort, servicesOrFail, uniq } from "../helpers/services.ts";

const NAME = "request explorer in fleet mode (Kafka, Redis, two gateways, projector, ClickHouse HTTP)";
const services = servicesOrFail(["kafka", "redis"], NAME);
const ROOT = resolve(import.meta.dir, "../..");
const DIMS = 8;

function spawnBun(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env } as Record<string, string>, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolveStart, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${args.join(" ")} not ready after 90 s: ${out.slice(-500)}`)), 90_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveStart({ child, line: m[0] });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(" ")} exited (${code}) before ready: ${out.slice(-500)}`));
    });
  });
}

if (services) {
  const id = uniq();
  const ADMIN = `explorer-fleet-${id}-0123456789`;
  const procs: ChildProcess[] = [];
  const dirs: string[] = [];
  const tmp = (p: string) => {
    const d = mkdtempSync(join(tmpdir(), p));
    dirs.push(d);
    return d;
  };
  let env: Record<string, string>;
  let one = "";
  let two = "";
  let fakeA: FakeOpenAI;
  let fakeB: FakeOpenAI;
  let fakeSlow: FakeOpenAI;
  let emb: FakeEmbeddings;
  const keys: Record<string, string> = {};
  const ids: Record<string, string> = {};
  let overrideId = "";

  const call = (base: string, method: string, path: string, key: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${key}`, ...headers }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const admin = (method: string, path: string, body?: unknown, base = one) => call(base, method, path, ADMIN, body);
  const get = async (path: string, key = ADMIN, base = one) => {
    const r = await call(base, "GET", path, key);
    return { status: r.status, body: (await r.json()) as any };
  };
  const msg = (content: string) => [{ role: "user", content }];
  const chat = (base: string, key: string, body: Record<string, unknown>, headers: Record<string, string> = {}) => call(base, "POST", "/v1/chat/completions", key, { model: "echo", temperature: 0, ...body }, headers);
  async function send(name: string, res: Promise<Response>, status: number) {
    const r = await res;
    expect({ name, status: r.status }).toEqual({ name, status });
    ids[name] = r.headers.get("x-request-id")!;
    await r.text();
  }
  async function keyFor(body: Record<string, unknown>) {
    const r = await admin("POST", "/api/v1/admin/keys", body);
    expect(r.status).toBe(201);
    return ((await r.json()) as { key: string }).key;
  }
  /** Both instances serve `check` (config converges within about a second). */
  const onBoth = (what: string, check: (base: string) => Promise<boolean>) => waitFor(async () => (await check(one)) && (await check(two)), 10_000, what);

  beforeAll(async () => {
    fakeA = startFakeOpenAI();
    fakeB = startFakeOpenAI();
    fakeSlow = startFakeOpenAI();
    emb = startFakeEmbeddings({ dims: DIMS });
    const ch = await spawnBun(["test/helpers/chdb-http-server.ts", tmp("tollgate-xf-ch-"), "0"], {}, /ready (\d+)/);
    procs.push(ch.child);
    env = {
      KAFKA_BROKERS: services.kafkaBrokers!,
      REDIS_URL: services.redisUrl!,
      CLICKHOUSE_URL: `http://127.0.0.1:${/ready (\d+)/.exec(ch.line)![1]}`,
      CLICKHOUSE_DATABASE: `xf_${id}`,
      TOLLGATE_ANALYTICS: "query",
      TOLLGATE_ADMIN_KEY: ADMIN,
      TOLLGATE_KAFKA_TOPIC_PREFIX: `xf${id}.`,
      TOLLGATE_REDIS_PREFIX: `xf${id}:`,
      TOLLGATE_PLUGINS_DIR: join(tmpdir(), `no-plugins-${id}`),
      HOST: "127.0.0.1",
      OTEL_EXPORTER_OTLP_ENDPOINT: "",
      TOLLGATE_LOG_LEVEL: "warn",
    };
    const gateway = async () => {
      const port = freePort();
      const { child } = await spawnBun(["run", "src/main.ts"], { ...env, PORT: String(port), TOLLGATE_DATA_DIR: tmp("tollgate-xf-gw-") }, /listening on \S+/);
      procs.push(child);
      return `http://127.0.0.1:${port}`;
    };
    [one, two] = await Promise.all([gateway(), gateway()]);
    const pj = await spawnBun(["run", "src/cli.ts", "projections", "run", "usage"], { ...env, TOLLGATE_DATA_DIR: tmp("tollgate-xf-pj-") }, /usage projection running/);
    procs.push(pj.child);

    for (const [pid, url] of [["up1", fakeA.url], ["up2", fakeB.url], ["slow", fakeSlow.url]] as const) expect((await admin("POST", "/api/v1/providers", { id: pid, kind: "openai", base_url: url, models: ["m", "m-override"] })).status).toBe(201);
    expect((await admin("POST", "/api/v1/providers", { id: "emb", kind: "custom", base_url: emb.url, models: ["emb-1"] })).status).toBe(201);
    for (const [pid, input, output] of [["echo/echo", 1000, 2000], ["up1/m", 1, 2], ["up2/m", 3, 4], ["up2/m-override", 5, 6], ["slow/m", 1, 1], ["emb/emb-1", 100, 0]] as const) expect((await admin("POST", "/api/v1/prices", { id: pid, input, output })).status).toBe(201);
    expect((await admin("POST", "/api/v1/routes", { id: "smart", strategy: "priority", targets: [{ provider: "up1", model: "m", priority: 0 }, { provider: "up2", model: "m", priority: 1 }], max_retries: 0 })).status).toBe(201);
    for (const t of ["t1", "t2"]) expect((await admin("POST", "/api/v1/admin/tenants", { id: t, name: t })).status).toBe(201);
    expect((await admin("PUT", "/api/v1/admin/tenants/t1/guardrails", { pii: { action: "redact", types: ["email"] } })).status).toBe(200);
    expect((await admin("PUT", "/api/v1/admin/tenants/t1/cache", { semantic: { enabled: true, embeddings_model: "emb/emb-1", threshold: 0.95, max_messages: 4 } })).status).toBe(200);
    keys.k1 = await keyFor({ tenant_id: "t1", name: "web", service: "web" });
    keys.rpm = await keyFor({ tenant_id: "t1", name: "rpm1", rpm_limit: 1 });
    keys.budget = await keyFor({ tenant_id: "t1", name: "tiny", budget: { amount_usd: 0.000001, period: "month" } });
    keys.k2 = await keyFor({ tenant_id: "t2", name: "other" });
    const o = await admin("POST", "/api/v1/overrides", { user_id: "cust-1", service: "web", tenant: "t1", provider: "up2", model: "m-override" });
    expect(o.status).toBe(201);
    overrideId = ((await o.json()) as { id: string }).id;
    // Both instances know the last change (the override) before traffic starts.
    await onBoth("the config on both instances", async (base) => (await call(base, "GET", `/api/v1/overrides/${overrideId}`, ADMIN)).status === 200);
    await onBoth("keys on both instances", async (base) => (await call(base, "GET", "/api/v1/keys/self", keys.k2!)).status === 200);

    // The traffic, spread over both instances.
    fakeA.enqueue({ kind: "error", status: 500 });
    await send("fallback", chat(two, keys.k1!, { model: "smart", messages: msg("route me") }), 200);
    await send("exact_first", chat(one, keys.k1!, { messages: msg("the same question") }), 200);
    await Bun.sleep(300);
    await send("exact_hit", chat(two, keys.k1!, { messages: msg("the same question") }), 200); // the shared Redis cache
    emb.set("user: what is the refund policy", towards(DIMS, 0, 1, 1));
    emb.set("user: what's your refund policy", towards(DIMS, 0, 1, 0.99));
    await send("semantic_first", chat(one, keys.k1!, { messages: msg("what is the refund policy") }), 200);
    await Bun.sleep(300);
    await send("semantic_hit", chat(two, keys.k1!, { messages: msg("what's your refund policy") }), 200);
    await send("pii", chat(two, keys.k1!, { temperature: 0.7, messages: msg("mail jane.doe@example.com please") }), 200);
    await send("override", chat(two, keys.k1!, { model: "smart", messages: msg("override me") }, { "x-tollgate-user": "cust-1" }), 200);
    await send("rpm_ok", chat(one, keys.rpm!, { messages: msg("one") }), 200);
    await send("rpm_429", chat(two, keys.rpm!, { messages: msg("two") }), 429); // one RPM window over both instances
    await send("budget", chat(two, keys.budget!, { messages: msg("too dear") }), 429);
    await send("other_tenant", chat(two, keys.k2!, { messages: msg("tenant two") }), 200);
    fakeSlow.setBehavior({ kind: "ok", contentChunks: Array.from({ length: 40 }, (_, i) => `part${i} `), chunkDelayMs: 100 });
    const aborter = new AbortController();
    const stream = await fetch(`${two}/v1/chat/completions`, { method: "POST", signal: aborter.signal, headers: { "content-type": "application/json", authorization: `Bearer ${keys.k1}` }, body: JSON.stringify({ model: "slow/m", stream: true, messages: msg("stream then leave") }) });
    expect(stream.status).toBe(200);
    ids.disconnect = stream.headers.get("x-request-id")!;
    const reader = stream.body!.getReader();
    await reader.read();
    aborter.abort();
    await reader.cancel().catch(() => {});

    const all = Object.values(ids);
    await waitFor(async () => {
      const list = await get("/api/v1/requests?days=1&limit=200");
      const seen = new Set((list.body.data ?? []).map((r: { id: string }) => r.id));
      if (!all.every((x) => seen.has(x))) return false;
      for (const x of all) {
        const t = await get(`/api/v1/requests/${x}`);
        if (t.status !== 200 || !t.body.events.some((e: { type: string }) => e.type === "request.completed")) return false;
      }
      return true;
    }, 60_000, "the projector to list and index every request");
  }, 240_000);

  afterAll(async () => {
    for (const p of procs.reverse()) {
      if (p.exitCode === null && p.signalCode === null) {
        const exited = new Promise((r) => p.once("exit", r));
        p.kill("SIGTERM");
        // A drain that hangs (a broker that went away first) must not hang the suite.
        if ((await Promise.race([exited.then(() => "exited"), Bun.sleep(15_000).then(() => "timeout")])) === "timeout") {
          p.kill("SIGKILL");
          await exited;
        }
      }
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await Promise.all([fakeA?.close(), fakeB?.close(), fakeSlow?.close(), emb?.close()]);
  });

  const row = async (name: string) => {
    const r = (await get("/api/v1/requests?days=1&limit=200")).body.data.find((x: { id: string }) => x.id === ids[name]);
    expect(r).toBeDefined();
    return r;
  };
  const types = async (name: string) => (await get(`/api/v1/requests/${ids[name]}`)).body.events.map((e: { type: string }) => e.type) as string[];
  const explain = async (name: string) => (await get(`/api/v1/requests/${ids[name]}/explain`)).body;
  const said = (reasons: string[], re: RegExp) => expect({ reasons, match: reasons.some((r) => re.test(r)) }).toEqual({ reasons, match: true });

  describe(NAME, () => {
    test("answered by instance 2, listed, opened and explained by instance 1", async () => {
      expect(await row("fallback")).toMatchObject({ provider: "up2", attempts: 2, route_level: "global" });
      expect(await types("fallback")).toEqual(expect.arrayContaining(["route.selected", "provider.attempt.failed", "provider.attempt.succeeded", "request.completed"]));
      said((await explain("fallback")).reasons, /ranks up1\/m > up2\/m/);
      expect(await row("exact_hit")).toMatchObject({ cache: "exact", attempts: 0 });
      said((await explain("exact_hit")).reasons, /answered by an exact hit/);
      expect((await row("semantic_hit")).cache).toBe("semantic");
      said((await explain("semantic_hit")).reasons, /semantic hit \(similarity 0\.99/);
      expect((await row("pii")).guardrails).toEqual({ action: "redacted", detections: 1 });
      said((await explain("pii")).reasons, /Redacted before the provider saw it: email/);
      expect(await row("override")).toMatchObject({ route_level: "customer_service", route_override: overrideId, model: "m-override" });
      said((await explain("override")).reasons, new RegExp(`customer override \`${overrideId}\``));
      expect(await row("rpm_429")).toMatchObject({ error_code: "rate_limit_exceeded" });
      said((await explain("rpm_429")).reasons, /Refused with 429: rate limit rpm:key:\S+ was full/);
      expect(await row("budget")).toMatchObject({ error_code: "budget_exceeded" });
      said((await explain("budget")).reasons, /Refused with 429: budget budget:key:\S+ could not fit/);
      expect(await row("disconnect")).toMatchObject({ status: "client_disconnected", provider: "slow" });
      // And instance 2 opens what instance 1 answered.
      expect((await get(`/api/v1/requests/${ids.exact_first}`, ADMIN, two)).status).toBe(200);
    });

    test("a change made on instance 2 is named by instance 1's explain", async () => {
      expect((await admin("DELETE", `/api/v1/overrides/${overrideId}`, undefined, two)).status).toBe(200);
      const x = await waitFor(async () => {
        const e = await explain("override");
        return e.current?.same === false ? e : undefined;
      }, 10_000, "instance 1 to see the change");
      const change = x.current.changes.find((c: any) => c.section === "route");
      expect(change.history).toMatchObject({ type: "customer_override.deleted", id: overrideId });
      said(x.reasons, /Today the route decision would differ: customer_override/);
    });

    test("tenant isolation across instances", async () => {
      expect((await get("/api/v1/requests?days=1", keys.k2!)).body.data.map((r: { id: string }) => r.id)).toEqual([ids.other_tenant]);
      expect((await get(`/api/v1/requests/${ids.fallback}`, keys.k2!)).status).toBe(404);
      expect((await get(`/api/v1/requests/${ids.fallback}/explain`, keys.k2!, two)).status).toBe(404);
      expect((await get(`/api/v1/requests/${ids.other_tenant}/explain`, keys.k2!)).status).toBe(200);
    });
  });
}
