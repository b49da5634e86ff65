/** Reading docker-compose.yml and the Grafana provisioning files the way their tools do, for the deploy tests. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

export const ROOT = join(import.meta.dir, "..", "..");

export function readYaml<T = unknown>(path: string): T {
  // Compose files use YAML merge keys (`<<: *gateway`), as docker compose does.
  return parse(readFileSync(join(ROOT, path), "utf8"), { merge: true }) as T;
}

export interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: string[];
  volumes?: string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  hostname?: string;
  command?: string[] | string;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/**
 * Compose variable interpolation: `$$` → `$`, `${VAR}`, `$VAR`, `${VAR:-default}` (unset or empty),
 * `${VAR-default}` (unset). `env` defaults to nothing set, i.e. the file's own defaults.
 */
/**
 * The secrets docker-compose.yml requires (`${VAR:?…}`, no default), with test values: the
 * resolving helpers use them unless a test passes its own environment.
 */
export const COMPOSE_SECRETS: Record<string, string> = {
  TOLLGATE_ADMIN_KEY: "compose-test-admin-key-0123456789",
  TOLLGATE_MASTER_KEY: "compose-test-master-key-0123456789",
  CLICKHOUSE_PASSWORD: "compose-test-clickhouse-password",
  CLICKHOUSE_GRAFANA_PASSWORD: "compose-test-grafana-reader-password",
  GRAFANA_ADMIN_PASSWORD: "compose-test-grafana-admin-password",
};

/** Compose's interpolation: `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}` (throws when unset/empty), `${VAR?error}`, `$VAR`, `$$`. */
export function interpolate(value: string, env: Record<string, string> = COMPOSE_SECRETS): string {
  return value.replace(/\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)/g, (m, name?: string, op?: string, def?: string, bare?: string) => {
    if (m === "$$") return "$";
    const key = (name ?? bare)!;
    const v = env[key];
    if (op === ":-") return v === undefined || v === "" ? def! : v;
    if (op === "-") return v === undefined ? def! : v;
    if (op === ":?" && (v === undefined || v === "")) throw new Error(`${key}: ${def}`);
    if (op === "?" && v === undefined) throw new Error(`${key}: ${def}`);
    return v ?? "";
  });
}

/** A service's environment as plain resolved strings (map or `KEY=VALUE` list form). */
export function serviceEnv(service: ComposeService, env: Record<string, string> = COMPOSE_SECRETS): Record<string, string> {
  const raw = service.environment ?? {};
  const entries: [string, string][] = Array.isArray(raw)
    ? raw.map((line) => {
        const at = line.indexOf("=");
        return at < 0 ? [line, ""] : [line.slice(0, at), line.slice(at + 1)];
      })
    : Object.entries(raw).map(([k, v]) => [k, v === null ? "" : String(v)]);
  return Object.fromEntries(entries.map(([k, v]) => [k, interpolate(v, env)]));
}

export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
  /** A host path (bind mount) rather than a named volume. */
  bind: boolean;
}

/** Short-syntax volume entries (`source:target[:ro]`). */
export function mounts(service: ComposeService): Mount[] {
  return (service.volumes ?? []).map((v) => {
    const [source, target, mode] = interpolate(v).split(":");
    return { source: source!, target: target!, readOnly: mode === "ro", bind: /^[./~]/.test(source!) };
  });
}

export function dependsOn(service: ComposeService): Record<string, string> {
  const d = service.depends_on ?? {};
  if (Array.isArray(d)) return Object.fromEntries(d.map((name) => [name, "service_started"]));
  return Object.fromEntries(Object.entries(d).map(([name, v]) => [name, v?.condition ?? "service_started"]));
}

/** Container ports a service publishes (`[ip:]host:container[/proto]`). */
export function publishedContainerPorts(service: ComposeService): number[] {
  return (service.ports ?? []).map((p) => Number(interpolate(String(p)).split("/")[0]!.split(":").at(-1)));
}

/**
 * Grafana's environment lookup in provisioning files: `$VAR` / `${VAR}` in values, from the
 * Grafana container's environment. Applied to every string in the parsed YAML.
 */
export function grafanaInterpolate<T>(value: T, env: Record<string, string>): T {
  if (typeof value === "string") {
    return value.replace(/\$\$|\$\{(\w+)\}|\$(\w+)/g, (m, a?: string, b?: string) => (m === "$$" ? "$" : (env[(a ?? b)!] ?? ""))) as T;
  }
  if (Array.isArray(value)) return value.map((v) => grafanaInterpolate(v, env)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, grafanaInterpolate(v, env)])) as T;
  }
  return value;
}

/** Host and port of a URL (the scheme's default port when none is given). */
export function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  const defaults: Record<string, number> = { "http:": 80, "https:": 443, "redis:": 6379, "rediss:": 6379 };
  return { host: u.hostname, port: Number(u.port || defaults[u.protocol]) };
}
