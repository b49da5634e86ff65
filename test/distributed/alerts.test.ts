/**
 * Alerts on the fleet set-up: two gateway processes (TOLLGATE_ALERTS=off) and one alert
 * projector process (`tollgate projections run alerts`) over the project's real Kafka and Redis,
 * a fake OpenAI upstream, and a webhook receiver in this test that checks every signature.
 *
 * - the upstream fails 30 % of calls: the error-rate alert fires exactly once at the receiver,
 *   the projector is SIGKILLed and restarted, the upstream recovers, and the alert resolves
 *   exactly once;
 * - a tenant budget crossed by concurrent calls on both instances fires 50/80/100 % once each,
 *   while the receiver is down for 30 s: nothing is lost;
 * - a spend-spike rule stays quiet over 8 days of steady (generated) spend and fires once on a spike.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { KafkaEventLog } from "../../src/events/kafka-log.ts";
import { makeEvent } from "../../src/events/envelope.ts";
import { verifySignature } from "../../src/alerts/delivery.ts";
import { waitFor } from "../helpers/gateway.ts";
import { freePort, servicesOrFail, uniq } from "../helpers/services.ts";
import { startFakeOpenAI, type FakeBehavior } from "../fakes/openai-upstream.ts";

const NAME = "alerts on the fleet: two gateways + alert projector over Kafka and Redis";
const services = servicesOrFail(["kafka", "redis"], NAME);
const ROOT = resolve(import.meta.dir, "../..");

function spawnBun(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env } as Record<string, string>, stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return new Promise((resolveStart, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${args.join(" ")} not ready after 60 s: ${out.slice(-500)}`)), 60_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        resolveStart({ child, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(" ")} exited (${code}) before ready: ${out.slice(-500)}`));
    });
  });
}

interface Received {
  delivery: string;
  type: string;
  rule: string;
  scope: string;
  signed: boolean;
}

if (services) {
  const id = uniq();
  const ADMIN = `alerts-admin-${id}-0123456789`;
  const SECRET = `hook-secret-${id}-0123456789`;
  const procs: ChildProcess[] = [];
  const dirs: string[] = [];
  const tmp = (p: string) => {
    const d = mkdtempSync(join(tmpdir(), p));
    dirs.push(d);
    return d;
  };
  const env: Record<string, string> = {
    KAFKA_BROKERS: services.kafkaBrokers!,
    REDIS_URL: services.redisUrl!,
    TOLLGATE_ADMIN_KEY: ADMIN,
    TOLLGATE_MASTER_KEY: `master-${id}-0123456789abcdef`,
    TOLLGATE_KAFKA_TOPIC_PREFIX: `al${id}.`,
    TOLLGATE_REDIS_PREFIX: `al${id}:`,
    TOLLGATE_ANALYTICS: "off",
    TOLLGATE_ALERTS: "off",
    OTEL_EXPORTER_OTLP_ENDPOINT: "",
    TOLLGATE_PLUGINS_DIR: join(tmpdir(), `no-plugins-${id}`),
  };
  const upstream = startFakeOpenAI();
  const receiverPort = freePort();
  const received: Received[] = [];
  let receiver: ReturnType<typeof Bun.serve> | undefined;
  const startReceiver = () => {
    receiver = Bun.serve({
      port: receiverPort,
      hostname: "127.0.0.1",
      async fetch(req) {
        const body = await req.text();
        const json = JSON.parse(body) as { type: string; alert: { rule: string; scope: string } };
        received.push({ delivery: req.headers.get("x-tollgate-delivery") ?? "", type: json.type, rule: json.alert.rule, scope: json.alert.scope, signed: verifySignature(SECRET, body, req.headers.get("x-tollgate-signature")) });
        return new Response("ok");
      },
    });
  };
  // What the receiver acts on: delivery is at least once (a redelivery after a consumer-group
  // rebalance carries the same `x-tollgate-delivery` id, and docs/alerts.md tells receivers to drop
  // repeats by it), so firings are counted by delivery id. Two *different* firings of one crossing
  // still show here as two entries and fail the exactly-once checks.
  const of = (rule: string) => [...new Map(received.filter((r) => r.rule === rule).map((r) => [r.delivery, r])).values()];

  let a!: string;
  let b!: string;
  let projector!: { child: ChildProcess; exited: Promise<number | null> };
  const startGateway = async () => {
    const port = freePort();
    const g = await spawnBun(["run", "src/main.ts"], { ...env, PORT: String(port), TOLLGATE_DATA_DIR: tmp("tollgate-alerts-gw-") }, /listening on \S+/);
    procs.push(g.child);
    return `http://127.0.0.1:${port}`;
  };
  const startProjector = async () => {
    projector = await spawnBun(["run", "src/cli.ts", "projections", "run", "alerts"], { ...env, TOLLGATE_DATA_DIR: tmp("tollgate-alerts-pj-") }, /alert projection running/);
    procs.push(projector.child);
  };

  const admin = async (url: string, method: string, path: string, body?: unknown) => {
    const r = await fetch(`${url}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, ...(body ? { body: JSON.stringify(body) } : {}) });
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
    return r.json() as Promise<Record<string, unknown>>;
  };
  const chat = (url: string, model: string, key?: string) =>
    fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: JSON.stringify({ model, max_tokens: 4, messages: [{ role: "user", content: "one two three four five" }] }) }).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    });

  beforeAll(async () => {
    startReceiver();
    [a, b] = await Promise.all([startGateway(), startGateway()]);
    await startProjector();
    await admin(a, "POST", "/api/v1/alerts/destinations", { id: "hook", kind: "webhook", url: `http://127.0.0.1:${receiverPort}/hook`, secret: SECRET });
    await admin(a, "POST", "/api/v1/providers", { id: "up", kind: "openai", base_url: upstream.url, api_key: "sk-fake-upstream", models: ["up-model"] });
  }, 120_000);

  afterAll(async () => {
    for (const p of procs.reverse()) {
      if (p.exitCode === null && p.signalCode === null) {
        p.kill("SIGTERM");
        await new Promise((r) => p.once("exit", r));
      }
    }
    receiver?.stop(true);
    await upstream.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  describe(NAME, () => {
    test("the destination test route reaches the receiver, signed", async () => {
      const r = await admin(a, "POST", "/api/v1/alerts/destinations/hook/test", {});
      expect(r).toMatchObject({ ok: true, destination: "hook", signed: true, status: 200 });
      const listed = (await admin(a, "GET", "/api/v1/alerts/destinations/hook")) as Record<string, unknown>;
      expect(listed.secret_enc).toBeUndefined();
      expect(JSON.stringify(listed)).not.toContain(SECRET);
      expect(received.at(-1)).toMatchObject({ rule: "test", signed: true });
      received.length = 0;
    }, 30_000);

    test("30 % upstream failures: the error-rate alert fires once, survives a projector kill, resolves once", async () => {
      await admin(a, "POST", "/api/v1/alerts/rules", { id: "up-errors", kind: "error_rate", provider: "up", threshold_pct: 20, window_s: 20, min_samples: 20 });
      // Keep the breakers closed at 30 % failures (this test is about the error-rate alert, not the breaker).
      await admin(a, "POST", "/api/v1/breakers", { id: "default", failure_rate: 0.9, min_requests: 50 });
      await waitFor(async () => (await chat(b, "up-model")) === 200, 10_000, "b to know the provider");
      await waitFor(async () => (await chat(a, "up-model")) === 200, 10_000, "a to know the breaker");
      await Bun.sleep(1500); // the breaker setting reaches b too
      const pattern: FakeBehavior[] = Array.from({ length: 10 }, (_, i) => (i % 3 === 1 ? { kind: "error", status: 500, message: "upstream broke" } : { kind: "ok" }));
      for (let round = 0; round < 12; round++) upstream.enqueue(...pattern);
      // 30 % of upstream answers fail (retries included); requests alternate between the gateways.
      const statuses: number[] = [];
      for (let wave = 0; wave < 6; wave++) statuses.push(...(await Promise.all(Array.from({ length: 10 }, (_, i) => chat(i % 2 ? a : b, "up-model")))));
      await waitFor(() => of("up-errors").length >= 1, 20_000, "the error-rate alert at the receiver").catch(async (err: Error) => {
        throw new Error(`${err.message}; statuses ${JSON.stringify(statuses)}; upstream calls ${upstream.requests.length}; alerts ${JSON.stringify(await admin(a, "GET", "/api/v1/alerts"))}`);
      });
      expect(of("up-errors")[0]).toMatchObject({ type: "alert.fired", scope: "up", signed: true });

      // The projector dies without a goodbye, and comes back.
      projector.child.kill("SIGKILL");
      await projector.exited;
      await startProjector();
      // Recovery: healthy answers push the 20 s window's failure rate under 20 %.
      upstream.reset();
      await waitFor(async () => {
        await Promise.all(Array.from({ length: 20 }, (_, i) => chat(i % 2 ? a : b, "up-model")));
        return of("up-errors").length >= 2;
      }, 40_000, "the resolve at the receiver");
      await Bun.sleep(3000); // anything duplicated would arrive by now
      expect(of("up-errors").map((r) => r.type)).toEqual(["alert.fired", "alert.resolved"]);
      expect(of("up-errors").every((r) => r.signed)).toBe(true);
      expect(new Set(of("up-errors").map((r) => r.delivery)).size).toBe(2);
    }, 120_000);

    test("budget 50/80/100 % once each from concurrent calls on both instances; the receiver down 30 s loses none", async () => {
      await admin(a, "POST", "/api/v1/prices", { id: "echo/echo", input: 1000, output: 2000 });
      await admin(a, "POST", "/api/v1/admin/tenants", { id: "acme", name: "Acme", budget: { amount_usd: 0.5, period: "day" } });
      const key = ((await admin(a, "POST", "/api/v1/admin/keys", { tenant_id: "acme", name: "alerts" })) as { key: string }).key;
      await admin(a, "POST", "/api/v1/alerts/rules", { id: "acme-budget", kind: "budget", budget: "tenant:acme", thresholds_pct: [50, 80, 100] });
      await waitFor(async () => (await chat(b, "echo", key)) === 200, 5000, "b to know the key");
      receiver!.stop(true); // the receiver goes down
      const downAt = Date.now();
      // Waves of concurrent calls on both instances until the budget refuses.
      let refused = 0;
      for (let wave = 0; wave < 40 && refused === 0; wave++) {
        const statuses = await Promise.all(Array.from({ length: 8 }, (_, i) => chat(i % 2 ? a : b, "echo", key)));
        refused = statuses.filter((s) => s === 429).length;
      }
      expect(refused).toBeGreaterThan(0);
      await Bun.sleep(Math.max(0, 30_000 - (Date.now() - downAt)));
      expect(of("acme-budget")).toHaveLength(0);
      startReceiver();
      await waitFor(() => of("acme-budget").length >= 3, 30_000, "the three budget alerts after the outage");
      await Bun.sleep(3000);
      expect(of("acme-budget").map((r) => `${r.type}:${r.scope}`).sort()).toEqual(["alert.fired:tenant:acme@100", "alert.fired:tenant:acme@50", "alert.fired:tenant:acme@80"]);
      expect(of("acme-budget").every((r) => r.signed)).toBe(true);
    }, 150_000);

    test("spend spike: quiet on 8 days of steady spend, fires once on the spike", async () => {
      await admin(a, "POST", "/api/v1/admin/tenants", { id: "spiky", name: "Spiky" });
      await admin(a, "POST", "/api/v1/alerts/rules", { id: "spiky-spend", kind: "spend_spike", tenant: "spiky", factor: 3, min_usd: 1 });
      const log = await KafkaEventLog.connect({ brokers: services.kafkaBrokers!.split(","), topicPrefix: `al${id}.` });
      try {
        const now = Date.now();
        const spend = (time: number, usd: number) => ({ key: "spiky", event: makeEvent({ type: "request.completed", tenant: "spiky", requestId: crypto.randomUUID(), time: new Date(time), payload: { status: "ok", provider: "echo", model: "echo", costUsd: usd, latencyMs: 5 } }) });
        // Steady: 0.5 USD every 15 minutes (2 USD an hour) for 8 days up to an hour ago.
        const steady = [];
        for (let t = now - 8 * 86_400_000; t < now - 3_600_000; t += 900_000) steady.push(spend(t, 0.5));
        await log.append("requests", steady);
        await Bun.sleep(5000); // several evaluations over the steady history
        expect(of("spiky-spend")).toHaveLength(0);
        // The spike: 12 USD within the last minutes (threshold: 3 × the 2 USD median hour).
        await log.append("requests", Array.from({ length: 12 }, (_, i) => spend(now - i * 10_000, 1)));
        await waitFor(() => of("spiky-spend").length >= 1, 20_000, "the spike alert");
        await Bun.sleep(3000);
        expect(of("spiky-spend")).toHaveLength(1);
        expect(of("spiky-spend")[0]).toMatchObject({ type: "alert.fired", scope: "spiky", signed: true });
      } finally {
        await log.close();
      }
    }, 60_000);
  });
}
