/**
 * The alert projection's shell on the real embedded log: fire once / resolve once across
 * projector restarts (also a crash between the append and the offset commit), two evaluators on
 * one lock, and the notifier holding an alert through a receiver outage.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileEventLog } from "../../src/events/file-log.ts";
import { makeEvent } from "../../src/events/envelope.ts";
import { MemoryStateStore } from "../../src/stores/memory-state-store.ts";
import { AlertProjector, ALERTS_GROUP } from "../../src/alerts/projector.ts";
import { AlertNotifier } from "../../src/alerts/notifier.ts";
import { verifySignature } from "../../src/alerts/delivery.ts";
import type { AlertRule } from "../../src/alerts/evaluate.ts";
import { readAll, waitFor } from "../helpers/gateway.ts";
import { freePort } from "../helpers/services.ts";

const rules: AlertRule[] = [{ id: "errs", fields: { kind: "error_rate", threshold_pct: 20, window_s: 60, min_samples: 10, enabled: true } }];
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-alerts-"));
  const log = await FileEventLog.open({ dir, partitions: { requests: 3 } });
  const store = new MemoryStateStore();
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }), () => log.close(), () => store.close());
  const traffic = async (n: number, failPct: number) => {
    const records = Array.from({ length: n }, (_, i) => {
      const failed = i % 100 < failPct;
      return { key: `t${i % 5}`, event: makeEvent({ type: failed ? "provider.attempt.failed" : "provider.attempt.succeeded", tenant: `t${i % 5}`, requestId: crypto.randomUUID(), payload: { provider: "up", model: "m", latencyMs: 5, ...(failed ? { status: 500, code: "provider_error" } : {}) } }) };
    });
    // interleave: i % 100 < failPct marks a share of every hundred
    await log.append("requests", records);
  };
  const projector = (opts: { rules?: AlertRule[] } = {}) => {
    const p = new AlertProjector(log, store, { rules: () => opts.rules ?? rules, tickMs: 30, leaseMs: 2000 }).start();
    cleanup.push(() => p.stop());
    return p;
  };
  const alerts = async () => (await readAll(log, "alerts")).map((e) => e.type);
  return { log, store, traffic, projector, alerts };
}

describe("alert projector", () => {
  test("30 % failures fire once, recovery resolves once, with a restart in between", async () => {
    const { traffic, projector, alerts } = await setup();
    let p = projector();
    await traffic(100, 30);
    await waitFor(async () => (await alerts()).length === 1, 5000, "alert.fired");
    await Bun.sleep(200); // more ticks over the same window: nothing new
    await traffic(50, 30);
    await Bun.sleep(200);
    expect(await alerts()).toEqual(["alert.fired"]);
    await p.stop();
    p = projector(); // restarted: replays the window, re-decides nothing
    await Bun.sleep(300);
    expect(await alerts()).toEqual(["alert.fired"]);
    await traffic(2000, 0); // recovery: 150 bad of 2150 < 20 %
    await waitFor(async () => (await alerts()).length === 2, 5000, "alert.resolved");
    await Bun.sleep(200);
    expect(await alerts()).toEqual(["alert.fired", "alert.resolved"]);
  });

  test("a crash between the append and the offset commit does not fire (or flap) again", async () => {
    const { log, traffic, projector, alerts } = await setup();
    const p = projector();
    await traffic(100, 30);
    await waitFor(async () => (await alerts()).length === 1, 5000, "alert.fired");
    await traffic(2000, 0);
    await waitFor(async () => (await alerts()).length === 2, 5000, "alert.resolved");
    await p.stop();
    // As if it died before committing anything: the committed offsets go back to 0.
    for (let part = 0; part < log.partitions("requests"); part++) await log.commit("requests", ALERTS_GROUP, part, 0);
    projector();
    await Bun.sleep(500);
    expect(await alerts()).toEqual(["alert.fired", "alert.resolved"]);
  });

  test("two evaluators on one lock: one alert", async () => {
    const { traffic, projector, alerts } = await setup();
    const [a, b] = [projector(), projector()];
    await traffic(100, 50);
    await waitFor(async () => (await alerts()).length >= 1, 5000, "alert.fired");
    await Bun.sleep(300);
    expect(await alerts()).toEqual(["alert.fired"]);
    expect([a.leader, b.leader].filter(Boolean)).toHaveLength(1);
    // The leader goes: the other takes over after the lease and does not fire again.
    await (a.leader ? a : b).stop();
    await Bun.sleep(2500);
    expect((a.leader ? a : b).leader).toBe(true);
    expect(await alerts()).toEqual(["alert.fired"]);
  });
});

describe("alert notifier", () => {
  test("a receiver down for a while loses nothing; signed; each transition once", async () => {
    const { log, traffic, projector } = await setup();
    const secret = "a-signing-secret-0123456789";
    const port = freePort();
    const got: Array<{ id: string; type: string; ok: boolean }> = [];
    const receiver = () =>
      Bun.serve({
        port,
        async fetch(req) {
          const body = await req.text();
          got.push({ id: req.headers.get("x-tollgate-delivery")!, type: JSON.parse(body).type, ok: verifySignature(secret, body, req.headers.get("x-tollgate-signature")) });
          return new Response("ok");
        },
      });
    const notifier = new AlertNotifier(log, { destinations: () => [{ id: "hook", kind: "webhook", url: `http://127.0.0.1:${port}/hook`, secret }] }).start();
    cleanup.push(() => notifier.stop());
    projector();
    await traffic(100, 40); // fires while nobody listens
    await waitFor(async () => notifier.failed >= 2, 10_000, "failed attempts while the receiver is down");
    const server = receiver();
    cleanup.push(() => server.stop(true));
    await waitFor(() => got.length === 1, 10_000, "the held alert to arrive");
    expect(got[0]).toMatchObject({ type: "alert.fired", ok: true });
    await traffic(3000, 0);
    await waitFor(() => got.length === 2, 10_000, "the resolve");
    await Bun.sleep(300);
    expect(got.map((g) => g.type)).toEqual(["alert.fired", "alert.resolved"]);
    expect(new Set(got.map((g) => g.id)).size).toBe(2);
  }, 30_000);
});
