/**
 * The fleet the way docker-compose.yml wires it: two gateway processes in TOLLGATE_ANALYTICS=query
 * and one standalone usage projector (`tollgate projections run usage`), all with the gateway
 * service's variables from the compose file, pointed at the project's real Kafka and Redis and a
 * ClickHouse-compatible server (the real engine, chDB, behind ClickHouse's HTTP interface:
 * test/helpers/chdb-http-server.ts). It shows one config change reaching both instances, one
 * budget shared exactly, usage from both in one analytics answer, and a SIGTERM'd instance
 * draining an in-flight stream to the end with all its events in the log.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { countPromptTokens } from "../../src/providers/tokens.ts";
import { KafkaEventLog } from "../../src/events/kafka-log.ts";
import { readAll, waitFor } from "../helpers/gateway.ts";
import { freePort, servicesOrFail, uniq } from "../helpers/services.ts";
import { type ComposeFile, readYaml, serviceEnv } from "../deploy/compose.ts";

const NAME = "fleet: two gateways + projector, wired like docker-compose.yml";
const services = servicesOrFail(["kafka", "redis"], NAME);
const ROOT = resolve(import.meta.dir, "../..");

interface Proc {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

/** Spawn `args` (bun) and wait for a line on stdout matching `ready`. */
function spawnBun(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; line: string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env } as Record<string, string>, stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return new Promise((resolveStart, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${args.join(" ")} not ready after 60 s: ${out.slice(-500)}`)), 60_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveStart({ child, line: m[0], exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(" ")} exited (${code}) before ready: ${out.slice(-500)}`));
    });
  });
}

if (services) {
  const id = uniq();
  const ADMIN = `fleet-admin-${id}-0123456789`;
  const procs: ChildProcess[] = [];
  const dirs: string[] = [];
  const tmp = (p: string) => {
    const d = mkdtempSync(join(tmpdir(), p));
    dirs.push(d);
    return d;
  };
  let clickhouse!: { child: ChildProcess; url: string };
  let fleetEnv!: Record<string, string>;

  // The gateway's variables exactly as compose sets them, with compose's host names swapped for
  // this machine's services and a namespace of our own on the shared Kafka/Redis.
  const composeEnv = () => {
    const env = serviceEnv(readYaml<ComposeFile>("docker-compose.yml").services["gateway-1"]!);
    expect(env.TOLLGATE_ANALYTICS).toBe("query");
    expect(env.KAFKA_BROKERS).toBe("kafka:9092");
    expect(env.REDIS_URL).toBe("redis://redis:6379");
    expect(env.CLICKHOUSE_URL).toBe("http://clickhouse:8123");
    return {
      ...env,
      KAFKA_BROKERS: services.kafkaBrokers!,
      REDIS_URL: services.redisUrl!,
      CLICKHOUSE_URL: clickhouse.url,
      CLICKHOUSE_USER: "",
      CLICKHOUSE_PASSWORD: "",
      CLICKHOUSE_DATABASE: `fleet_${id}`,
      TOLLGATE_ADMIN_KEY: ADMIN,
      TOLLGATE_KAFKA_TOPIC_PREFIX: `f${id}.`,
      TOLLGATE_REDIS_PREFIX: `f${id}:`,
      OTEL_EXPORTER_OTLP_ENDPOINT: "",
      TOLLGATE_PLUGINS_DIR: join(tmpdir(), `no-plugins-${id}`),
    };
  };

  const startGateway = async (): Promise<Proc> => {
    const port = freePort();
    const { child, exited } = await spawnBun(["run", "src/main.ts"], { ...fleetEnv, PORT: String(port), TOLLGATE_DATA_DIR: tmp("tollgate-fleet-gw-") }, /listening on \S+/);
    procs.push(child);
    return { child, url: `http://127.0.0.1:${port}`, exited };
  };

  let a!: Proc;
  let b!: Proc;
  let projector!: Proc;

  beforeAll(async () => {
    const ch = await spawnBun(["test/helpers/chdb-http-server.ts", tmp("tollgate-fleet-ch-"), "0"], {}, /ready (\d+)/);
    procs.push(ch.child);
    clickhouse = { child: ch.child, url: `http://127.0.0.1:${/ready (\d+)/.exec(ch.line)![1]}` };
    fleetEnv = composeEnv();
    [a, b] = await Promise.all([startGateway(), startGateway()]);
    const pj = await spawnBun(["run", "src/cli.ts", "projections", "run", "usage"], { ...fleetEnv, TOLLGATE_DATA_DIR: tmp("tollgate-fleet-pj-") }, /usage projection running/);
    procs.push(pj.child);
    projector = { child: pj.child, url: "", exited: pj.exited };
  }, 120_000);

  afterAll(async () => {
    for (const p of procs.reverse()) {
      if (p.exitCode === null && p.signalCode === null) {
        p.kill("SIGTERM");
        await new Promise((r) => p.once("exit", r));
      }
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const admin = (gw: Proc, method: string, path: string, body?: unknown) =>
    fetch(`${gw.url}${path}`, { method, headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const chat = (gw: Proc, key: string, body: Record<string, unknown>) =>
    fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify(body) });

  const PROMPT = "one two three four five six seven eight nine ten";
  const MAX = 4;
  const messages = [{ role: "user" as const, content: PROMPT }];
  const costMicros = countPromptTokens(messages) * 1000 + MAX * 2000; // prices below: 1000 / 2000 USD per 1M tokens
  let key = "";

  describe(NAME, () => {
    test("one config change reaches both instances", async () => {
      expect((await admin(a, "POST", "/api/v1/prices", { id: "echo/echo", input: 1000, output: 2000 })).status).toBe(201);
      expect((await admin(a, "POST", "/api/v1/admin/tenants", { id: "acme", name: "Acme" })).status).toBe(201);
      const created = await admin(a, "POST", "/api/v1/admin/keys", { tenant_id: "acme", name: "fleet", budget: { amount_usd: (30 * costMicros) / 1e6, period: "day" } });
      expect(created.status).toBe(201);
      key = ((await created.json()) as { key: string }).key;
      // Made on a, answered on b (first try may race the 1 s convergence).
      await waitFor(async () => (await chat(b, key, { model: "echo", max_tokens: MAX, messages: [{ role: "user", content: "warm-up" }] })).status === 200, 5000, "b to accept the key created on a");
    }, 30_000);

    test("one budget shared exactly: 120 concurrent calls over both instances, the budget fits 30 (minus the warm-up)", async () => {
      const warmUpMicros = countPromptTokens([{ role: "user", content: "warm-up" }]) * 1000 + countPromptTokensOut("warm-up") * 2000;
      const fits = Math.floor((30 * costMicros - warmUpMicros) / costMicros);
      const results = await Promise.all(
        Array.from({ length: 120 }, (_, i) => chat(i % 2 ? a : b, key, { model: "echo", max_tokens: MAX, messages }).then(async (r) => ({ status: r.status, code: ((await r.json()) as { error?: { code: string } }).error?.code }))),
      );
      expect(results.filter((r) => r.status === 200)).toHaveLength(fits);
      expect(results.filter((r) => r.status === 429 && r.code === "budget_exceeded")).toHaveLength(120 - fits);
    }, 60_000);

    test("usage from both instances in one analytics answer (written by the standalone projector)", async () => {
      // 1 warm-up (b) + the budget's admitted calls on a and b, + the refusals: every request.completed.
      const total = 1 + 120;
      let last = "";
      const summary = await waitFor(async () => {
        const r = await admin(a, "GET", "/api/v1/usage/summary?days=1&tenant=acme");
        const s = (await r.json()) as { data: { requests: number; cost_micros: number } };
        last = JSON.stringify(s).slice(0, 300);
        if (r.status !== 200) return undefined;
        return s.data.requests === total ? s.data : undefined;
      }, 20_000, `the projector to write all ${total} requests`).catch((err: Error) => {
        throw new Error(`${err.message}; last answer: ${last}`);
      });
      expect(summary.requests).toBe(total);
      const fromB = (await (await admin(b, "GET", "/api/v1/usage/summary?days=1&tenant=acme")).json()) as { data: { requests: number; cost_micros: number } };
      expect(fromB.data.requests).toBe(total);
      expect(fromB.data.cost_micros).toBe(summary.cost_micros);
    }, 30_000);

    test("a SIGTERM'd instance drains its in-flight stream to the end; its events are all in the log", async () => {
      expect((await admin(a, "POST", "/api/v1/providers", { id: "slow", kind: "echo", models: ["slow-echo"], chunk_delay_ms: 40 })).status).toBe(201);
      const text = Array.from({ length: 30 }, (_, i) => `w${i}`).join(" ");
      const res = await waitFor(async () => {
        const r = await chat(b, key, { model: "slow-echo", stream: true, messages: [{ role: "user", content: text }] });
        if (r.status === 200) return r;
        await r.arrayBuffer();
        return undefined;
      }, 5000, "b to know the slow provider");
      const requestId = res.headers.get("x-request-id")!;
      const body = res.text();
      await Bun.sleep(200);
      b.child.kill("SIGTERM");
      const streamed = await body;
      const code = await b.exited;
      expect(code).toBe(0);
      expect(streamed).toContain("data: [DONE]");
      const content = streamed
        .split("\n")
        .filter((l) => l.startsWith("data: {"))
        .map((l) => JSON.parse(l.slice(6)).choices?.[0]?.delta?.content ?? "")
        .join("");
      expect(content).toBe(text);
      const log = await KafkaEventLog.connect({ brokers: services.kafkaBrokers!.split(","), topicPrefix: `f${id}.` });
      try {
        const events = (await readAll(log, "requests")).filter((e) => e.requestId === requestId);
        expect(events.filter((e) => e.type === "request.received")).toHaveLength(1);
        const completed = events.filter((e) => e.type === "request.completed");
        expect(completed).toHaveLength(1);
        expect(completed[0]!.payload).toMatchObject({ status: "ok", stream: true, model: "slow-echo" });
      } finally {
        await log.close();
      }
      expect(projector.child.exitCode).toBeNull(); // the projector keeps running
    }, 60_000);

    test("a rolling restart under load loses no request and no event", async () => {
      b = await startGateway(); // the replica stopped above comes back
      const gateways = [a, b];
      const created = await admin(a, "POST", "/api/v1/admin/keys", { tenant_id: "acme", name: "rolling" }); // no budget: every call answers
      const rollingKey = ((await created.json()) as { key: string }).key;
      await waitFor(async () => (await chat(b, rollingKey, { model: "echo", messages: [{ role: "user", content: "x" }] })).status === 200, 5000, "b to accept the new key");
      const answered: string[] = [];
      let failed = 0;
      let stop = false;
      // A load balancer's behaviour: a refused or reset connection is retried on the other replica.
      const one = async (i: number): Promise<void> => {
        for (let attempt = 0; attempt < 4; attempt++) {
          const gw = gateways[(i + attempt) % 2]!;
          try {
            const r = await chat(gw, rollingKey, { model: "echo", messages: [{ role: "user", content: `rolling ${i}` }] });
            await r.arrayBuffer();
            if (r.status === 200) answered.push(r.headers.get("x-request-id")!);
            else failed++;
            return;
          } catch {
            await Bun.sleep(10);
          }
        }
        failed++;
      };
      let n = 0;
      const workers = Array.from({ length: 8 }, async () => {
        while (!stop) await one(n++);
      });
      // Restart each replica in turn, the way a Deployment's rolling update does.
      for (const idx of [0, 1]) {
        await Bun.sleep(400);
        const old = gateways[idx]!;
        old.child.kill("SIGTERM");
        expect(await old.exited).toBe(0);
        gateways[idx] = await startGateway();
      }
      await Bun.sleep(300);
      stop = true;
      await Promise.all(workers);
      [a, b] = gateways as [Proc, Proc];
      expect(failed).toBe(0);
      expect(answered.length).toBeGreaterThan(50);
      const log = await KafkaEventLog.connect({ brokers: services.kafkaBrokers!.split(","), topicPrefix: `f${id}.` });
      try {
        // The running replicas forward their write-ahead outboxes a few ms behind; the stopped ones
        // drained theirs before exiting.
        let missing: string[] = [];
        await waitFor(async () => {
          const completed = new Map<string, number>();
          for (const e of await readAll(log, "requests")) if (e.type === "request.completed" && e.requestId) completed.set(e.requestId, (completed.get(e.requestId) ?? 0) + 1);
          missing = answered.filter((rid) => completed.get(rid) !== 1);
          return missing.length === 0;
        }, 10_000, "every answered request in Kafka").catch(() => {});
        expect(missing).toEqual([]);
      } finally {
        await log.close();
      }
    }, 120_000);
  });
}

/** Echo answers with the prompt itself: its completion tokens are the prompt's text tokens. */
function countPromptTokensOut(text: string): number {
  const { countTextTokens } = require("../../src/providers/tokens.ts") as typeof import("../../src/providers/tokens.ts");
  return countTextTokens(text);
}
