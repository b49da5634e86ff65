/**
 * docker-compose.yml and the Dockerfile, checked without Docker: every backend the gateway's env
 * points at exists and listens there, credentials agree on both ends, health-gated dependencies have
 * health checks, volumes are declared. (Grafana's side: grafana.test.ts.)
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ENV_VARS, loadSettings } from "../../src/config/env.ts";
import { COMPOSE_SECRETS, type ComposeFile, dependsOn, hostPort, interpolate, mounts, publishedContainerPorts, readYaml, ROOT, serviceEnv } from "./compose.ts";

const compose = readYaml<ComposeFile>("docker-compose.yml");
const svc = compose.services;
/** The gateway replicas (gateway-1, gateway-2, …): one definition, shared through a YAML anchor. */
const replicas = Object.keys(svc).filter((n) => /^gateway-\d+$/.test(n)).sort();
const gateway = svc[replicas[0]!]!;
const gatewayEnv = serviceEnv(gateway);

/** The service named `host`, which must listen on `port` inside the network. */
function expectService(host: string, port: number, listens: (name: string) => number[]): void {
  expect(Object.keys(svc)).toContain(host);
  expect(listens(host)).toContain(port);
}

describe("docker-compose.yml", () => {
  test("has the services, named volumes declared, images pinned to the chosen lines", () => {
    expect(Object.keys(svc).sort()).toEqual(["clickhouse", "gateway-1", "gateway-2", "grafana", "jaeger", "kafka", "projector", "prometheus", "redis"]);
    for (const [name, s] of Object.entries(svc)) {
      for (const m of mounts(s)) {
        if (m.bind) expect(existsSync(join(ROOT, m.source)), `${name}: ${m.source} exists`).toBe(true);
        else expect(Object.keys(compose.volumes ?? {}), `${name}: volume ${m.source} declared`).toContain(m.source);
      }
    }
    expect(svc.kafka!.image).toMatch(/^apache\/kafka:4\.\d+\.\d+$/);
    expect(svc.clickhouse!.image).toMatch(/^clickhouse\/clickhouse-server:25\.\d+/);
    expect(svc.grafana!.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
  });

  test("the gateway is built from the Dockerfile, which runs src/main.ts on Bun with a data volume", () => {
    const build = gateway.build as { context: string; dockerfile: string };
    const dockerfile = readFileSync(join(ROOT, build.context, build.dockerfile), "utf8");
    expect(dockerfile).toMatch(/^FROM oven\/bun:/m);
    expect(dockerfile).toContain("bun install --frozen-lockfile --production");
    expect(dockerfile).toContain('CMD ["bun", "run", "src/main.ts"]');
    for (const [, path] of dockerfile.matchAll(/^COPY (?!--from)(\S+)/gm)) expect(existsSync(join(ROOT, path!)), path).toBe(true);
    for (const f of ["package.json", "bun.lock", "tsconfig.json"]) expect(dockerfile).toMatch(new RegExp(`^COPY .*\\b${f.replace(".", "\\.")}\\b`, "m"));
    expect(dockerfile).toMatch(/^VOLUME \["\/data"\]/m);
    expect(gatewayEnv.HOST).toBe("0.0.0.0");
    expect(mounts(gateway).map((m) => m.target)).toContain(gatewayEnv.TOLLGATE_DATA_DIR!);
    const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim());
    for (const p of ["node_modules", "data", ".tools", ".test-artifacts"]) expect(ignored).toContain(p);
  });

  test("every gateway variable is one the gateway reads (or a standard OTEL_ one), and its settings validate", () => {
    for (const name of Object.keys(gatewayEnv)) {
      if (!name.startsWith("OTEL_")) expect(Object.keys(ENV_VARS), name).toContain(name);
    }
    const settings = loadSettings(gatewayEnv); // throws, naming the variable, on any bad value
    expect(settings).toMatchObject({ host: "0.0.0.0", port: 8200, dataDir: "/data", kafkaBrokers: ["kafka:9092"], redisUrl: "redis://redis:6379" });
    expect(settings.adminKey).toBeDefined();
    expect(settings.masterKey).toBeDefined();
  });

  test("KAFKA_BROKERS points at the kafka service's in-network listener", () => {
    const kafka = serviceEnv(svc.kafka!);
    const listeners = kafka.KAFKA_LISTENERS!.split(",");
    const advertised = kafka.KAFKA_ADVERTISED_LISTENERS!.split(",");
    for (const broker of gatewayEnv.KAFKA_BROKERS!.split(",")) {
      const [host, port] = broker.split(":");
      expect(Object.keys(svc)).toContain(host!);
      // Advertised as host:port under some listener name, which is bound on that port.
      const adv = advertised.find((l) => l.endsWith(`://${host}:${port}`));
      expect(adv, `advertised listener for ${broker}`).toBeDefined();
      const name = adv!.split("://")[0]!;
      expect(listeners).toContain(`${name}://:${port}`);
      expect(kafka.KAFKA_INTER_BROKER_LISTENER_NAME).toBe(name);
    }
    const controller = kafka.KAFKA_CONTROLLER_LISTENER_NAMES!;
    expect(kafka.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(`${kafka.KAFKA_NODE_ID}@${svc.kafka!.hostname}:${listeners.find((l) => l.startsWith(`${controller}://`))!.split(":").at(-1)}`);
    expect(kafka.KAFKA_PROCESS_ROLES).toBe("broker,controller");
    expect(mounts(svc.kafka!).map((m) => m.target)).toContain(kafka.KAFKA_LOG_DIRS!);
  });

  test("REDIS_URL, CLICKHOUSE_URL and the OTLP endpoint point at services listening there", () => {
    // What each image listens on inside the network (from the images' docs).
    const IMAGE_PORTS: Record<string, number[]> = { redis: [6379], "clickhouse/clickhouse-server": [8123, 9000], "jaegertracing/jaeger": [4317, 4318, 16686] };
    const listens = (name: string) => IMAGE_PORTS[svc[name]!.image!.split(":")[0]!] ?? [];
    const redis = hostPort(gatewayEnv.REDIS_URL!);
    expectService(redis.host, redis.port, listens);
    const ch = hostPort(gatewayEnv.CLICKHOUSE_URL!);
    expectService(ch.host, ch.port, listens);
    expect(publishedContainerPorts(svc.clickhouse!)).toContain(ch.port);
    const otlp = hostPort(gatewayEnv.OTEL_EXPORTER_OTLP_ENDPOINT!);
    expectService(otlp.host, otlp.port, listens);
    expect(otlp.port).toBe(4318); // OTLP over HTTP
    expect(serviceEnv(svc.jaeger!).JAEGER_LISTEN_HOST).toBe("0.0.0.0"); // reachable from other containers
  });

  test("the gateway's ClickHouse credentials are the server's user, its database the dashboard's", () => {
    const ch = serviceEnv(svc.clickhouse!);
    expect(gatewayEnv.CLICKHOUSE_USER).toBe(ch.CLICKHOUSE_USER!);
    expect(gatewayEnv.CLICKHOUSE_PASSWORD).toBe(ch.CLICKHOUSE_PASSWORD!);
    expect(gatewayEnv.CLICKHOUSE_DATABASE).toBe("tollgate");
    expect(ch.CLICKHOUSE_DB).toBe("tollgate");
  });

  test("depends_on names existing services; service_healthy only where a healthcheck exists", () => {
    const dockerfileHealthcheck = /^HEALTHCHECK /m.test(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
    for (const [name, s] of Object.entries(svc)) {
      for (const [dep, condition] of Object.entries(dependsOn(s))) {
        expect(Object.keys(svc), `${name} depends on ${dep}`).toContain(dep);
        if (condition === "service_healthy") {
          const has = svc[dep]!.healthcheck?.test !== undefined || (/^gateway-\d+$/.test(dep) && dockerfileHealthcheck);
          expect(has, `${dep} has a healthcheck`).toBe(true);
        }
      }
    }
    for (const r of replicas) expect(dependsOn(svc[r]!)).toMatchObject({ kafka: "service_healthy", redis: "service_healthy", clickhouse: "service_healthy" });
    expect(dependsOn(svc.grafana!)).toMatchObject({ clickhouse: "service_healthy" });
  });

  test("Prometheus scrapes the gateway's /metrics on its port, and Grafana has it as a data source", () => {
    const prom = svc.prometheus!;
    expect(prom.image).toMatch(/^prom\/prometheus:v3\.\d+\.\d+$/);
    const configMount = mounts(prom).find((m) => m.target === "/etc/prometheus/prometheus.yml")!;
    expect(configMount.bind).toBe(true);
    const config = readYaml<{ scrape_configs: Array<{ metrics_path?: string; static_configs: Array<{ targets: string[] }> }> }>(configMount.source.replace(/^\.\//, ""));
    const job = config.scrape_configs[0]!;
    expect(job.metrics_path ?? "/metrics").toBe("/metrics");
    for (const r of replicas) expect(job.static_configs.flatMap((c) => c.targets)).toContain(`${r}:${gatewayEnv.PORT}`);
    const ds = readYaml<{ datasources: Array<{ type: string; url: string }> }>("deploy/grafana/provisioning/datasources/prometheus.yaml").datasources;
    const p = ds.find((d) => d.type === "prometheus")!;
    expect(hostPort(p.url)).toEqual({ host: "prometheus", port: 9090 });
    expect(publishedContainerPorts(prom)).toContain(9090);
    expect(mounts(svc.grafana!).some((m) => m.source === "./deploy/grafana/provisioning")).toBe(true);
  });

  test("the gateway exports traces over OTLP/HTTP to the compose Jaeger", () => {
    expect(hostPort(gatewayEnv.OTEL_EXPORTER_OTLP_ENDPOINT!)).toEqual({ host: "jaeger", port: 4318 });
    expect(gatewayEnv.OTEL_SERVICE_NAME).toBe("tollgate");
  });
});

describe("docker-compose.yml secrets and exposure (issue 22, finding 9)", () => {
  const raw = readFileSync(join(ROOT, "docker-compose.yml"), "utf8");

  test("every secret is required (${VAR:?…}): no well-known default admin key or password", () => {
    for (const name of ["TOLLGATE_ADMIN_KEY", "TOLLGATE_MASTER_KEY", "CLICKHOUSE_PASSWORD", "CLICKHOUSE_GRAFANA_PASSWORD", "GRAFANA_ADMIN_PASSWORD"]) {
      const uses = [...raw.matchAll(new RegExp(`\\$\\{${name}(:?[-?])`, "g"))].map((m) => m[1]);
      expect({ name, uses: uses.length > 0 }).toEqual({ name, uses: true });
      expect({ name, ops: [...new Set(uses)] }).toEqual({ name, ops: [":?"] });
    }
    expect(raw).not.toContain("tollgate-dev-admin-key");
    // Unset, compose refuses: our interpolation does the same.
    expect(() => serviceEnv(gateway, {})).toThrow(/TOLLGATE_ADMIN_KEY/);
  });

  test("every published port binds to 127.0.0.1 unless TOLLGATE_BIND opts in", () => {
    for (const [name, s] of Object.entries(svc)) {
      for (const p of s.ports ?? []) {
        const host = interpolate(String(p)).split(":")[0];
        expect({ name, port: String(p), host }).toEqual({ name, port: String(p), host: "127.0.0.1" });
      }
    }
    const opted = interpolate(String(gateway.ports![0]), { ...COMPOSE_SECRETS, TOLLGATE_BIND: "0.0.0.0" });
    expect(opted.startsWith("0.0.0.0:")).toBe(true);
  });
});

describe("operators' plugins in compose (issue 24)", () => {
  test("every replica mounts a plugins directory read-only at TOLLGATE_PLUGINS_DIR", () => {
    for (const name of replicas) {
      const dir = serviceEnv(svc[name]!).TOLLGATE_PLUGINS_DIR;
      expect(dir).toBe("/etc/tollgate/plugins");
      const m = mounts(svc[name]!).find((x) => x.target === dir);
      expect(m).toMatchObject({ bind: true, readOnly: true });
    }
  });
});
