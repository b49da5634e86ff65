/**
 * Redis clients under Bun, side by side: ioredis (auto-pipelined) and Bun's built-in RedisClient,
 * one EVALSHA of a small script and one GET, at c=16 and c=1; ops/s and CPU µs per call of this
 * process. Needs REDIS_URL (e.g. `eval "$(bash scripts/redis.sh start)"`).
 *
 *   REDIS_URL=redis://127.0.0.1:16379 bun bench/redis-clients.ts
 */
import Redis from "ioredis";
import { RedisClient } from "bun";
const url = process.env.REDIS_URL!;
const script = "local v = redis.call('INCR', KEYS[1]); redis.call('PEXPIRE', KEYS[1], 60000); return v";
const io = new Redis(url, { enableAutoPipelining: true });
const bun = new RedisClient(url);
await bun.connect();
const sha = (await io.script("LOAD", script)) as string;
async function run(name: string, call: (i: number) => Promise<unknown>, n = 20000, c = 16) {
  const cpu0 = process.cpuUsage(); const t0 = performance.now();
  let i = 0;
  await Promise.all(Array.from({ length: c }, async () => { while (i < n) await call(i++); }));
  const cpu = process.cpuUsage(cpu0); const ms = performance.now() - t0;
  console.log(`${name}: ${Math.round(n / (ms / 1000))} ops/s, ${((cpu.user + cpu.system) / n).toFixed(1)} µs CPU/op (c=${c})`);
}
for (let round = 0; round < 2; round++) {
  await run("ioredis evalsha", (i) => io.evalsha(sha, 1, `k${i % 100}`));
  await run("bun    evalsha", (i) => bun.send("EVALSHA", [sha, "1", `k${i % 100}`]));
  await run("ioredis evalsha c=1", (i) => io.evalsha(sha, 1, `k${i % 100}`), 5000, 1);
  await run("bun    evalsha c=1", (i) => bun.send("EVALSHA", [sha, "1", `k${i % 100}`]), 5000, 1);
  await run("ioredis get", (i) => io.get(`k${i % 100}`));
  await run("bun    get", (i) => bun.get(`k${i % 100}`));
}
io.disconnect(); bun.close();
