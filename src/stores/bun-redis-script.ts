/**
 * One Lua script on Redis through Bun's built-in client (`RedisClient`, native, auto-pipelined):
 * the admission script's hot-path runner. Measured side by side with ioredis under Bun
 * (bench/redis-clients.ts): an EVALSHA costs ≈ 7 µs of CPU at c=1 and ≈ 4 µs at c=16 here,
 * against ≈ 23 µs and 8–19 µs through ioredis, so admission and settle use it while the rest of
 * RedisStateStore (config projection, locks, scans) stays on ioredis.
 *
 * Semantics match the store's ioredis client: EVALSHA, falling back to EVAL when the server lost
 * its script cache (NOSCRIPT, e.g. after a restart); no offline queue once connected (a call while
 * Redis is down rejects at once, and the client reconnects in the background); a call without a
 * reply within `commandTimeoutMs` rejects.
 *
 * @example
 * const script = await BunRedisScript.connect(url, ADMISSION_LUA, { commandTimeoutMs: 2000 });
 * await script.run(2, "k1", "k2", "arg");
 * script.close();
 */
import { RedisClient } from "bun";
import { createHash } from "node:crypto";
import { withTimeout } from "../util/with-timeout.ts";

export interface BunRedisScriptOptions {
  /** A call without a reply after this long rejects (default 2000 ms). */
  commandTimeoutMs?: number;
  /** How long `connect` waits for the first connection (default 5000 ms). */
  connectTimeoutMs?: number;
}

export class BunRedisScript {
  readonly sha: string;

  private constructor(
    private readonly client: RedisClient,
    private readonly lua: string,
    private readonly timeoutMs: number,
  ) {
    this.sha = createHash("sha1").update(lua).digest("hex");
  }

  static async connect(url: string, lua: string, opts: BunRedisScriptOptions = {}): Promise<BunRedisScript> {
    const client = new RedisClient(url, {
      autoReconnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      connectionTimeout: opts.connectTimeoutMs ?? 5000,
      maxRetries: 4_294_967_295, // keep reconnecting (capped backoff inside the client) while the gateway runs
    });
    await client.connect();
    const script = new BunRedisScript(client, lua, opts.commandTimeoutMs ?? 2000);
    await client.send("SCRIPT", ["LOAD", lua]);
    return script;
  }

  /** `numKeys`, then KEYS, then ARGV: what ioredis `defineCommand` takes, so the two are interchangeable. */
  run = async (numKeys: number, ...keysAndArgs: string[]): Promise<unknown[]> => {
    try {
      return (await this.timed(this.client.send("EVALSHA", [this.sha, String(numKeys), ...keysAndArgs]))) as unknown[];
    } catch (err) {
      if (!String((err as Error).message).includes("NOSCRIPT")) throw err;
      return (await this.timed(this.client.send("EVAL", [this.lua, String(numKeys), ...keysAndArgs]))) as unknown[];
    }
  };

  /**
   * One HSCAN step on this client: Bun's client parses the reply natively, several times faster on
   * the request thread than ioredis for a reply of megabytes (a semantic scope's records).
   */
  async hscan(key: string, cursor: string, count: number): Promise<[string, string[]]> {
    return (await this.timed(this.client.send("HSCAN", [key, cursor, "COUNT", String(count)]))) as [string, string[]];
  }

  private timed<T>(p: Promise<T>): Promise<T> {
    return withTimeout(p, this.timeoutMs, () => new Error(`Redis did not answer within ${this.timeoutMs} ms`));
  }

  close(): void {
    this.client.close();
  }
}
