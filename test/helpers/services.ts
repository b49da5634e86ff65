/**
 * Real services for tests. `servicesOrFail(["kafka","redis"], name)` returns their URLs; when one is
 * missing the suite fails under CI=true (never a silent skip) and is skipped with a warning
 * otherwise.
 */
import { describe, test } from "bun:test";

export interface Services {
  kafkaBrokers?: string;
  redisUrl?: string;
  /** A ClickHouse server for driver tests (Debian's 18.16: too old for the schema, see docs/analytics-clickhouse-server.md). */
  clickhouseTestUrl?: string;
  /** Jaeger's OTLP/HTTP receiver (scripts/jaeger.sh). */
  jaegerOtlpUrl?: string;
  /** Jaeger's query API (scripts/jaeger.sh). */
  jaegerQueryUrl?: string;
}

type Service = "kafka" | "redis" | "clickhouse" | "jaeger";
const ENV: Record<Service, [keyof Services, string]> = {
  kafka: ["kafkaBrokers", "KAFKA_BROKERS"],
  redis: ["redisUrl", "REDIS_URL"],
  clickhouse: ["clickhouseTestUrl", "CLICKHOUSE_TEST_URL"],
  jaeger: ["jaegerQueryUrl", "JAEGER_QUERY_URL"],
};

export function servicesOrFail(needs: Service[], name: string): Services | undefined {
  const s: Services = {};
  for (const [key, variable] of Object.values(ENV)) if (process.env[variable]) s[key] = process.env[variable];
  if (s.jaegerQueryUrl && process.env.JAEGER_OTLP_URL) s.jaegerOtlpUrl = process.env.JAEGER_OTLP_URL;
  else delete s.jaegerQueryUrl; // both or neither
  const missing = needs.filter((n) => !s[ENV[n][0]]);
  const ok = availableOrFail(name, missing.join(" and "), missing.length ? `${missing.map((m) => ENV[m][1]).join(" and ")} not set: start them with scripts/${missing[0]}.sh start (make test does)` : undefined);
  return ok ? s : undefined;
}

/**
 * True when what suite `name` needs is there (`problem` undefined). Otherwise the suite does not
 * run: under CI=true it is one failing test naming the problem (never a silent skip), elsewhere a
 * skip with a warning.
 */
export function availableOrFail(name: string, what: string, problem: string | undefined): boolean {
  if (problem === undefined) return true;
  if (process.env.CI === "true") {
    describe(name, () => {
      test(`needs ${what}`, () => {
        throw new Error(problem);
      });
    });
  } else {
    console.warn(`[skip] ${name}: ${problem}`);
    describe.skip(name, () => test("skipped", () => {}));
  }
  return false;
}

/** A local port nothing listens on (right now): for servers a test starts itself. */
export function freePort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = server;
  server.stop(true);
  return port;
}

/** A unique suffix for topic and key prefixes, so runs never see each other's data. */
export const uniq = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;
