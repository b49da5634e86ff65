/** Issue 22, finding 4: client-chosen model names cannot grow the router's health state without bound. */
import { describe, expect, test } from "bun:test";
import { MAX_TRACKED_TARGETS } from "../../src/routing/health.ts";
import { Router } from "../../src/routing/router.ts";

describe("router health state is a capped LRU", () => {
  test("8,000 random `echo/<name>` targets leave at most MAX_TRACKED_TARGETS tracked, the recent ones kept", () => {
    const router = new Router(() => 1_000);
    router.record("openai/gpt-4o", true, 120);
    for (let i = 0; i < 8000; i++) {
      router.record(`echo/random-${i}`, false);
      if (i % 100 === 0) router.record("openai/gpt-4o", true, 100); // a real target in steady use
    }
    const health = router.health();
    expect(health.size).toBeLessThanOrEqual(MAX_TRACKED_TARGETS);
    expect(health.has("echo/random-7999")).toBe(true);
    expect(health.has("echo/random-0")).toBe(false);
    expect(health.get("openai/gpt-4o")?.ewmaLatencyMs).toBeDefined(); // used recently: kept with its history
  });
});
