/**
 * A redis-server of the test's own (free port, temp dir), to kill and restart: for "Redis down"
 * tests that must not disturb the shared REDIS_URL. `available` is false when redis-server is not
 * installed (use with availableOrFail).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./services.ts";
import { waitFor } from "./gateway.ts";

export const REDIS_SERVER = Bun.which("redis-server");
export const REDIS_MISSING = REDIS_SERVER ? undefined : "redis-server is not installed: bash scripts/redis.sh install (make test does)";

export function throwawayRedis(name: string) {
  const port = freePort();
  const dir = mkdtempSync(join(tmpdir(), `tollgate-${name}-`));
  let redis: ReturnType<typeof Bun.spawn> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    async start(): Promise<void> {
      redis = Bun.spawn([REDIS_SERVER!, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdout: "ignore", stderr: "ignore" });
      await waitFor(async () => {
        try {
          const sock = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
          sock.end();
          return true;
        } catch {
          return false;
        }
      }, 10_000, "redis-server to listen");
    },
    async stop(): Promise<void> {
      redis?.kill("SIGKILL");
      await redis?.exited;
    },
    async dispose(): Promise<void> {
      await this.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
