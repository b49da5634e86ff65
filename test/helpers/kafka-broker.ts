/**
 * Stop and restart the Kafka broker that scripts/kafka.sh started, keeping its data: SIGTERM
 * (a clean broker shutdown), then the same command line again.
 */
import { spawn } from "node:child_process";
import { existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");

function runDir(brokers: string): string {
  const port = brokers.split(",")[0]!.split(":")[1]!;
  return resolve(ROOT, `.services/kafka/run-${port}`);
}

export interface BrokerHandle {
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** A handle on the running broker, or undefined if it was not started by scripts/kafka.sh. */
export function brokerHandle(brokers: string): BrokerHandle | undefined {
  const dir = runDir(brokers);
  const pidFile = resolve(dir, "kafka.pid");
  if (!existsSync(pidFile)) return undefined;
  let pid = Number(readFileSync(pidFile, "utf8").trim());
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  const alive = (p: number) => {
    try {
      process.kill(p, 0);
      return !readFileSync(`/proc/${p}/stat`, "utf8").includes(") Z ");
    } catch {
      return false;
    }
  };
  return {
    async stop() {
      process.kill(pid, "SIGTERM");
      const deadline = Date.now() + 30_000;
      while (alive(pid)) {
        if (Date.now() > deadline) process.kill(pid, "SIGKILL");
        await Bun.sleep(50);
      }
    },
    async start() {
      const logFile = resolve(dir, "kafka.log");
      const before = readFileSync(logFile, "utf8").split("Kafka Server started").length;
      const out = openSync(logFile, "a");
      const child = spawn(cmdline[0]!, cmdline.slice(1), { cwd: ROOT, detached: true, stdio: ["ignore", out, out] });
      child.unref();
      pid = child.pid!;
      writeFileSync(pidFile, String(pid));
      const deadline = Date.now() + 90_000;
      while (readFileSync(logFile, "utf8").split("Kafka Server started").length <= before) {
        if (Date.now() > deadline) throw new Error("broker did not restart within 90 s");
        await Bun.sleep(100);
      }
    },
  };
}
