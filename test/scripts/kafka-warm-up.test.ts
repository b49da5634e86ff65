/** scripts/kafka-warm-up.ts: retries until its deadline and names the probe that failed last. */
import { expect, test } from "bun:test";
import { freePort } from "../helpers/services.ts";

test("with no broker it retries until the deadline, then names the last probe and its error", async () => {
  const port = freePort();
  const started = Date.now();
  const proc = Bun.spawn(["bun", "scripts/kafka-warm-up.ts", `127.0.0.1:${port}`, "3"], { stderr: "pipe", stdout: "pipe" });
  const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  expect(code).toBe(1);
  expect(Date.now() - started).toBeGreaterThanOrEqual(2000); // kept trying, did not give up on the first refusal
  expect(stderr).toContain("not ready yet");
  expect(stderr).toMatch(/broker not ready after 3s: last probe: connect \+ describeCluster: .*Connection/i);
});
