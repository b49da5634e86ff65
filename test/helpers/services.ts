/**
 * Real services for tests. `requireServices(["kafka","redis"])` returns their URLs; when one is
 * missing the suite fails under CI=true (never a silent skip) and is skipped with a warning
 * otherwise.
 */
import { describe, test } from "bun:test";

export interface Services {
  kafkaBrokers?: string;
  redisUrl?: string;
}

export function servicesOrFail(needs: Array<"kafka" | "redis">, name: string): Services | undefined {
  const s: Services = {};
  if (process.env.KAFKA_BROKERS) s.kafkaBrokers = process.env.KAFKA_BROKERS;
  if (process.env.REDIS_URL) s.redisUrl = process.env.REDIS_URL;
  const missing = needs.filter((n) => (n === "kafka" ? !s.kafkaBrokers : !s.redisUrl));
  if (missing.length === 0) return s;
  const msg = `${missing.map((m) => (m === "kafka" ? "KAFKA_BROKERS" : "REDIS_URL")).join(" and ")} not set: start them with scripts/${missing[0]}.sh start (make test does)`;
  if (process.env.CI === "true") {
    describe(name, () => {
      test(`needs ${missing.join(" and ")}`, () => {
        throw new Error(msg);
      });
    });
  } else {
    console.warn(`[skip] ${name}: ${msg}`);
    describe.skip(name, () => test("skipped", () => {}));
  }
  return undefined;
}

/** A unique suffix for topic and key prefixes, so runs never see each other's data. */
export const uniq = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;
