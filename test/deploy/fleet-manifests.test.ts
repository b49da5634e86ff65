/**
 * The fleet manifests, checked without Docker or a cluster: docker-compose.yml (two gateway
 * replicas, a projector, Prometheus) and deploy/k8s (plain YAML + kustomization). Every service,
 * volume, ConfigMap and Secret referenced is defined; every gateway variable set is one the
 * gateway reads and the required ones are set; probe and scrape paths exist in the app; ports
 * don't collide; images are pinned.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { ENV_VARS, loadSettings } from "../../src/config/env.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type ComposeFile, dependsOn, mounts, readYaml, ROOT, serviceEnv } from "./compose.ts";

const compose = readYaml<ComposeFile & { services: Record<string, { command?: string[]; stop_grace_period?: string; healthcheck?: { disable?: boolean } }> }>("docker-compose.yml");
const svc = compose.services;
const replicas = Object.keys(svc).filter((n) => /^gateway-\d+$/.test(n)).sort();

/** A variable the gateway reads: its settings schema, or the standard OTEL_ / BUN_ runtime ones. */
const known = (name: string) => name in ENV_VARS || name.startsWith("OTEL_") || name.startsWith("BUN_");
/** Without these a fleet instance would fall back to embedded stores or refuse admin calls. */
const REQUIRED = ["HOST", "KAFKA_BROKERS", "REDIS_URL", "CLICKHOUSE_URL", "TOLLGATE_ADMIN_KEY", "TOLLGATE_MASTER_KEY", "TOLLGATE_ANALYTICS"];

// A running app, to check that the probe paths the manifests use exist.
let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.dispose();
});
const routeExists = async (path: string) => (await fetch(`${gw.url}${path}`)).status !== 404;

describe("docker-compose.yml: the fleet", () => {
  test("two gateway replicas with identical settings in query mode, each with its own data volume", () => {
    expect(replicas).toEqual(["gateway-1", "gateway-2"]);
    const envs = replicas.map((r) => serviceEnv(svc[r]!));
    expect(envs[1]).toEqual(envs[0]!);
    expect(envs[0]!.TOLLGATE_ANALYTICS).toBe("query");
    const data = replicas.map((r) => mounts(svc[r]!).find((m) => m.target === envs[0]!.TOLLGATE_DATA_DIR)?.source);
    expect(new Set(data).size).toBe(replicas.length); // two processes never share one outbox/file log
    for (const r of replicas) expect(svc[r]!.stop_grace_period).toBe("35s");
    // The grace period outlasts the drain.
    expect(Number(envs[0]!.TOLLGATE_DRAIN_TIMEOUT_MS) / 1000).toBeLessThan(35);
  });

  test("a standalone usage projector on the gateway's settings", () => {
    const p = svc.projector!;
    expect(p.command).toEqual(["bun", "run", "src/cli.ts", "projections", "run", "usage"]);
    expect(serviceEnv(p)).toEqual(serviceEnv(svc[replicas[0]!]!));
    expect(dependsOn(p)).toMatchObject({ kafka: "service_healthy", clickhouse: "service_healthy" });
    expect(p.healthcheck?.disable).toBe(true);
  });

  test("every gateway variable is one the gateway reads, the required ones are set, and they validate", () => {
    for (const name of [...replicas, "projector"]) {
      const env = serviceEnv(svc[name]!);
      for (const v of Object.keys(env)) expect(known(v), `${name}: ${v}`).toBe(true);
      for (const v of REQUIRED) expect(env[v], `${name}: ${v}`).toBeTruthy();
      loadSettings(env); // throws, naming the variable, on any bad value
    }
  });

  test("every service and volume referenced is defined; host ports don't collide; images are pinned", () => {
    const hostPorts: string[] = [];
    for (const [name, s] of Object.entries(svc)) {
      for (const dep of Object.keys(dependsOn(s))) expect(Object.keys(svc), `${name} → ${dep}`).toContain(dep);
      for (const m of mounts(s)) {
        if (m.bind) expect(existsSync(join(ROOT, m.source)), `${name}: ${m.source}`).toBe(true);
        else expect(Object.keys(compose.volumes ?? {}), `${name}: volume ${m.source}`).toContain(m.source);
      }
      for (const p of s.ports ?? []) {
        const published = p.replace(/\$\{\w+:-(\d+)\}/g, "$1").split(":").slice(0, -1).join(":");
        hostPorts.push(published.includes(":") ? published : `0.0.0.0:${published}`);
      }
      expect(s.image, `${name} has an image`).toBeDefined();
      expect(s.image!, `${name}: pinned`).toMatch(/^[\w./-]+:(?!latest$)[\w.-]+$/);
    }
    const portOnly = hostPorts.map((p) => p.split(":").at(-1));
    expect(new Set(portOnly).size).toBe(portOnly.length);
  });

  test("Prometheus scrapes /metrics on every replica; Grafana has it as a data source beside ClickHouse", async () => {
    const prom = readYaml<{ scrape_configs: Array<{ job_name: string; metrics_path?: string; static_configs: Array<{ targets: string[] }> }> }>("deploy/prometheus/prometheus.yml");
    const job = prom.scrape_configs.find((j) => j.job_name === "tollgate")!;
    expect(job.static_configs.flatMap((c) => c.targets).sort()).toEqual(replicas.map((r) => `${r}:${serviceEnv(svc[r]!).PORT}`));
    expect(await routeExists(job.metrics_path ?? "/metrics")).toBe(true);
    const ds = readYaml<{ datasources: Array<{ type: string; url: string }> }>("deploy/grafana/provisioning/datasources/prometheus.yaml").datasources[0]!;
    expect(ds.type).toBe("prometheus");
    expect(ds.url).toBe("http://prometheus:9090");
    expect(mounts(svc.grafana!).some((m) => m.source === "./deploy/grafana/provisioning")).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------

type K8s = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: any; data?: Record<string, string>; stringData?: Record<string, string> };
const K8S = "deploy/k8s";
const kustomization = readYaml<{ resources: string[]; images: Array<{ name: string; newName?: string; newTag?: string; digest?: string }> }>(`${K8S}/kustomization.yaml`);
const docs: K8s[] = kustomization.resources.flatMap((f) => parseAllDocuments(readFileSync(join(ROOT, K8S, f), "utf8")).map((d) => d.toJS() as K8s));
const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
const deployments = docs.filter((d) => d.kind === "Deployment");
const gatewayDep = find("Deployment", "tollgate-gateway")!;
const container = (d: K8s) => d.spec.template.spec.containers[0];

describe("deploy/k8s", () => {
  test("the kustomization lists existing files; the image is pinned to a tag or digest", () => {
    for (const f of kustomization.resources) expect(existsSync(join(ROOT, K8S, f)), f).toBe(true);
    for (const d of deployments) for (const c of d.spec.template.spec.containers) expect(kustomization.images.map((i) => i.name)).toContain(c.image);
    for (const i of kustomization.images) expect(i.digest ?? i.newTag, i.name).toMatch(/^(sha256:[0-9a-f]{64}|(?!latest$)[\w.-]+)$/);
    expect(docs.map((d) => d.kind).sort()).toEqual(["ConfigMap", "Deployment", "Deployment", "HorizontalPodAutoscaler", "Namespace", "PodDisruptionBudget", "Secret", "Service"]);
  });

  test("the gateway: non-root, read-only root filesystem, requests and limits, probes on paths that exist, a preStop pause inside the grace period", async () => {
    const pod = gatewayDep.spec.template.spec;
    const c = container(gatewayDep);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    for (const r of ["cpu", "memory"]) {
      expect(c.resources.requests[r], `request ${r}`).toBeDefined();
      expect(c.resources.limits[r], `limit ${r}`).toBeDefined();
    }
    expect(c.readinessProbe.httpGet.path).toBe("/ready");
    expect(c.livenessProbe.httpGet.path).toBe("/health");
    for (const path of [c.readinessProbe.httpGet.path, c.livenessProbe.httpGet.path, c.startupProbe.httpGet.path, pod === undefined ? "" : gatewayDep.spec.template.metadata.annotations["prometheus.io/path"]]) {
      expect(await routeExists(path), path).toBe(true);
    }
    const ann = gatewayDep.spec.template.metadata.annotations;
    expect(ann["prometheus.io/scrape"]).toBe("true");
    expect(Number(ann["prometheus.io/port"])).toBe(c.ports[0].containerPort);
    // Writable paths are volumes, since the root filesystem is not.
    const cm = find("ConfigMap", "tollgate-config")!.data!;
    const mountsAt = c.volumeMounts.map((m: { mountPath: string }) => m.mountPath);
    expect(mountsAt).toContain(cm.TOLLGATE_DATA_DIR);
    expect(mountsAt).toContain("/tmp");
    const volumes = pod.volumes.map((v: { name: string }) => v.name);
    for (const m of c.volumeMounts) expect(volumes).toContain(m.name);
    // preStop pause + drain < grace period.
    const preStop = c.lifecycle.preStop.sleep.seconds;
    expect(preStop).toBeGreaterThan(0);
    expect(preStop + Number(cm.TOLLGATE_DRAIN_TIMEOUT_MS) / 1000).toBeLessThan(pod.terminationGracePeriodSeconds);
    expect(gatewayDep.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  });

  test("every variable set is one the gateway reads, required ones present, and the settings validate", () => {
    const cm = find("ConfigMap", "tollgate-config")!.data!;
    const secret = find("Secret", "tollgate-secrets")!.stringData!;
    for (const d of deployments) {
      const c = container(d);
      for (const ref of c.envFrom) {
        if (ref.configMapRef) expect(find("ConfigMap", ref.configMapRef.name), ref.configMapRef.name).toBeDefined();
        if (ref.secretRef) expect(find("Secret", ref.secretRef.name), ref.secretRef.name).toBeDefined();
      }
      const env: Record<string, string> = { ...cm, ...secret, ...Object.fromEntries((c.env ?? []).map((e: { name: string; value: string }) => [e.name, e.value])) };
      for (const v of Object.keys(env)) expect(known(v), `${d.metadata.name}: ${v}`).toBe(true);
      for (const v of REQUIRED) expect(env[v], `${d.metadata.name}: ${v}`).toBeTruthy();
      loadSettings(env);
    }
    expect(cm.TOLLGATE_ANALYTICS).toBe("query");
    expect(container(find("Deployment", "tollgate-projector")!).command).toEqual(["bun", "run", "src/cli.ts", "projections", "run", "usage"]);
  });

  test("the Secret is a template: no real values", () => {
    const secret = find("Secret", "tollgate-secrets")!;
    expect(secret.data).toBeUndefined();
    expect(Object.keys(secret.stringData!).sort()).toEqual(["CLICKHOUSE_PASSWORD", "TOLLGATE_ADMIN_KEY", "TOLLGATE_MASTER_KEY"]);
    for (const [k, v] of Object.entries(secret.stringData!)) expect(v, k).toMatch(/^REPLACE_WITH_[A-Z_]+$/);
  });

  test("Service, HPA and PDB select the gateway pods; ports line up and don't collide", () => {
    const labels = gatewayDep.spec.template.metadata.labels;
    const matches = (sel: Record<string, string>) => Object.entries(sel).every(([k, v]) => labels[k] === v);
    expect(matches(gatewayDep.spec.selector.matchLabels)).toBe(true);
    const service = find("Service", "tollgate")!;
    expect(matches(service.spec.selector)).toBe(true);
    expect(service.spec.ports.map((p: { targetPort: string }) => p.targetPort)).toEqual(container(gatewayDep).ports.map((p: { name: string }) => p.name));
    const servicePorts = service.spec.ports.map((p: { port: number }) => p.port);
    expect(new Set(servicePorts).size).toBe(servicePorts.length);
    const hpa = find("HorizontalPodAutoscaler", "tollgate-gateway")!;
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: "tollgate-gateway" });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(matches(find("PodDisruptionBudget", "tollgate-gateway")!.spec.selector.matchLabels)).toBe(true);
    // The projector's pods are not the gateway's: the Service never routes to them.
    const projector = find("Deployment", "tollgate-projector")!;
    expect(matches(projector.spec.template.metadata.labels)).toBe(false);
    expect(Object.entries(service.spec.selector).every(([k, v]) => projector.spec.template.metadata.labels[k] === v)).toBe(false);
  });
});
