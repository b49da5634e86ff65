/**
 * Cost of the routing decisions on the hot path, in-process: select the targets of a
 * 3-target route, pass the breaker, record the outcome — per request.
 *
 *   bun run bench/routing.ts
 */
import { Router } from "../src/routing/router.ts";
import type { Route } from "../src/routing/types.ts";

const router = new Router();
const prices = { "a/m": { input: 1, output: 2 }, "b/m": { input: 0.5, output: 1 }, "c/m": { input: 3, output: 6 } };
const N = 200_000;
for (const strategy of ["priority", "weighted", "round_robin", "least_latency", "lowest_cost", "ab"] as const) {
  const route: Route = {
    alias: `bench-${strategy}`,
    strategy,
    targets: [{ provider: "a", model: "m", weight: 3 }, { provider: "b", model: "m", weight: 1 }, { provider: "c", model: "m", weight: 2 }],
    ...(strategy === "ab" ? { ab: { percent: 10, target: 1 } } : {}),
  };
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const sel = router.select(route, prices, { userId: `u${i % 1000}`, promptTokens: 100, maxTokens: 200 });
    const key = `${sel.targets[0]!.provider}/${sel.targets[0]!.model}`;
    router.admit(key);
    router.record(key, i % 50 !== 0, 20 + (i % 7));
  }
  const us = ((performance.now() - t0) / N) * 1000;
  console.log(`| ${strategy} | ${us.toFixed(2)} µs |`);
}
