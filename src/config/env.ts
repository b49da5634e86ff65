/**
 * Settings from the environment, validated at start. A bad value stops the process with a
 * message that names the variable, what it got and what it expects.
 */
import { Type as T, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";

export const Settings = T.Object({
  port: T.Integer({ minimum: 0, maximum: 65535 }),
  host: T.String({ minLength: 1 }),
  dataDir: T.String({ minLength: 1 }),
  adminKey: T.Optional(T.String({ minLength: 16 })),
  configFile: T.Optional(T.String({ minLength: 1 })),
  maxBodyBytes: T.Integer({ minimum: 1024 }),
  /** Allowed browser origins (none when unset: no CORS headers at all). */
  corsOrigins: T.Optional(T.Array(T.String({ minLength: 1 }), { minItems: 1 })),
  metricsToken: T.Optional(T.String({ minLength: 16 })),
  providerEnvPrefix: T.String({ pattern: "^[A-Za-z0-9_]*$" }),
  providerEnvAllow: T.Optional(T.Array(T.String({ pattern: "^[A-Za-z_][A-Za-z0-9_]*$" }), { minItems: 1 })),
  /** Extra `Host` names accepted on a loopback bind (DNS-rebinding guard). */
  allowedHosts: T.Optional(T.Array(T.String({ pattern: "^[A-Za-z0-9.:\\[\\]_-]+$" }), { minItems: 1 })),
  openaiApiKey: T.Optional(T.String({ minLength: 1 })),
  openaiBaseUrl: T.String({ pattern: "^https?://" }),
  pluginsDir: T.String({ minLength: 1 }),
  logLevel: T.Union([T.Literal("debug"), T.Literal("info"), T.Literal("warn"), T.Literal("error")]),
  kafkaBrokers: T.Optional(T.Array(T.String({ pattern: "^[^\\s:]+:\\d+$" }), { minItems: 1 })),
  redisUrl: T.Optional(T.String({ pattern: "^rediss?://" })),
  masterKey: T.Optional(T.String({ minLength: 16 })),
  kafkaTopicPrefix: T.String({ pattern: "^[A-Za-z0-9._-]*$" }),
  redisPrefix: T.String({ minLength: 1 }),
  analytics: T.Union([T.Literal("on"), T.Literal("off"), T.Literal("query")]),
  /** Alert projection + notifier in this process (issue 29). */
  alerts: T.Optional(T.Union([T.Literal("on"), T.Literal("off")])),
  clickhouseUrl: T.Optional(T.String({ pattern: "^https?://" })),
  clickhouseUser: T.Optional(T.String({ minLength: 1 })),
  clickhousePassword: T.Optional(T.String()),
  clickhouseDatabase: T.String({ pattern: "^[A-Za-z_][A-Za-z0-9_]*$" }),
  drainTimeoutMs: T.Integer({ minimum: 0 }),
  /** Shared state store: how far back a start settles again what a crash left unsettled (issue 30). */
  settleReplayMs: T.Integer({ minimum: 0, maximum: 1_800_000 }),
  metricsMaxTenants: T.Optional(T.Integer({ minimum: 1 })),
  metricsMaxModels: T.Optional(T.Integer({ minimum: 1 })),
  fsyncMs: T.Integer({ minimum: 0, maximum: 10_000 }),
  cacheMaxBytes: T.Integer({ minimum: 1024 }),
  cacheTimeoutMs: T.Integer({ minimum: 1, maximum: 10_000 }),
  analyticsEngine: T.Union([T.Literal("process"), T.Literal("inline")]),
  responsesTtlSeconds: T.Integer({ minimum: 60, maximum: 31_536_000 }),
  adminSigninFailures: T.Integer({ minimum: 0, maximum: 10_000 }),
  // Issue 31: the semantic tier's built-in local embedder.
  embedderModelDir: T.Optional(T.String({ minLength: 1 })),
  embedderThreads: T.Optional(T.Integer({ minimum: 1, maximum: 64 })),
});
export type Settings = Static<typeof Settings>;

/** The documented environment variables: name → [setting, default, description]. */
export const ENV_VARS = {
  PORT: ["port", "8200", "HTTP port"],
  HOST: ["host", "127.0.0.1", "Interface to bind (0.0.0.0 for all)"],
  TOLLGATE_DATA_DIR: ["dataDir", "./data", "Event log, outbox and embedded analytics (chDB) directory"],
  TOLLGATE_ADMIN_KEY: ["adminKey", "", "Admin API key (at least 16 characters); unset: the key in <data dir>/admin.key, generated (mode 0600) and printed once on the first run"],
  TOLLGATE_CONFIG: ["configFile", "", "Bootstrap file (JSON or YAML): providers, model aliases, prices"],
  TOLLGATE_MAX_BODY_BYTES: ["maxBodyBytes", "4194304", "Largest accepted request body"],
  TOLLGATE_CORS_ORIGINS: ["corsOrigins", "", "Comma-separated allowed browser origins (e.g. https://app.example.com), or *; unset: none (no CORS headers)"],
  TOLLGATE_METRICS_TOKEN: ["metricsToken", "", "When set (≥ 16 characters), /metrics needs it (or the admin key) as `Authorization: Bearer …`; /ready details need either too"],
  TOLLGATE_PROVIDER_ENV_PREFIX: ["providerEnvPrefix", "TOLLGATE_PROVIDER_", "Env variables a provider's `api_key_env` may name through the admin API must start with this (the bootstrap file may name any)"],
  TOLLGATE_PROVIDER_ENV_ALLOW: ["providerEnvAllow", "", "Comma-separated env variable names `api_key_env` may also name through the admin API"],
  TOLLGATE_ALLOWED_HOSTS: ["allowedHosts", "", "On a loopback bind, `Host` names accepted besides localhost, 127.0.0.1, ::1 and HOST (DNS-rebinding guard); comma-separated"],
  OPENAI_API_KEY: ["openaiApiKey", "", "Registers provider `openai` when set"],
  OPENAI_BASE_URL: ["openaiBaseUrl", "https://api.openai.com/v1", "Base URL of the `openai` provider"],
  TOLLGATE_PLUGINS_DIR: ["pluginsDir", "./plugins", "Operators' plugins loaded at start"],
  LOG_LEVEL: ["logLevel", "info", "debug | info | warn | error"],
  KAFKA_BROKERS: ["kafkaBrokers", "", "Comma-separated Kafka brokers (host:port): the event log runs on Kafka"],
  REDIS_URL: ["redisUrl", "", "redis:// URL: shared state (config projection, limits) lives in Redis"],
  TOLLGATE_KAFKA_TOPIC_PREFIX: ["kafkaTopicPrefix", "tollgate.", "Prefix of the Kafka topics (requests, config, deadletter, alerts)"],
  TOLLGATE_REDIS_PREFIX: ["redisPrefix", "tollgate:", "Prefix of every Redis key"],
  TOLLGATE_ANALYTICS: ["analytics", "on", "on | off | query: the usage projection and the /api/v1/usage API; `query` serves the API without running the projection (with CLICKHOUSE_URL). Store: ClickHouse when CLICKHOUSE_URL is set, else embedded chDB under the data dir"],
  TOLLGATE_ALERTS: ["alerts", "", "on (default) | off: run the alert projection and notifier in this process (one evaluator at a time through a lock in the state store; docs/alerts.md)"],
  CLICKHOUSE_URL: ["clickhouseUrl", "", "http(s):// URL of a ClickHouse server for analytics (else embedded chDB)"],
  CLICKHOUSE_USER: ["clickhouseUser", "", "ClickHouse user (default: the server's `default`)"],
  CLICKHOUSE_PASSWORD: ["clickhousePassword", "", "ClickHouse password"],
  CLICKHOUSE_DATABASE: ["clickhouseDatabase", "tollgate", "Database of the analytics tables (created if missing)"],
  TOLLGATE_DRAIN_TIMEOUT_MS: ["drainTimeoutMs", "25000", "On SIGTERM: how long in-flight requests and streams may take to finish before they are cut (keep it below the orchestrator's grace period)"],
  TOLLGATE_SETTLE_REPLAY_MS: ["settleReplayMs", "120000", "With REDIS_URL: at start, budget spend of the requests answered in this last window of the log is settled again in the background (what a crash left unsettled; already-settled requests change nothing). At most 1800000 (the store keeps settle receipts 1 h); 0 = off"],
  TOLLGATE_FSYNC_MS: ["fsyncMs", "5", "Event log / outbox fsync interval, ms: an answered request is always written to the OS before its answer; a power loss can lose at most this window. 0 = fsync every group commit"],
  TOLLGATE_MASTER_KEY: ["masterKey", "", "Encrypts provider API keys at rest (AES-256-GCM); ≥ 16 chars, or 32 bytes hex/base64"],
  TOLLGATE_METRICS_MAX_TENANTS: ["metricsMaxTenants", "", "Distinct tenant label values in /metrics (default 100); later tenants are counted as `other`"],
  TOLLGATE_METRICS_MAX_MODELS: ["metricsMaxModels", "", "Distinct model label values in /metrics (default 100); later models are counted as `other`"],
  TOLLGATE_CACHE_MAX_BYTES: ["cacheMaxBytes", "67108864", "Bound of the in-process response cache (LRU), bytes; with REDIS_URL the cache lives in Redis"],
  TOLLGATE_CACHE_TIMEOUT_MS: ["cacheTimeoutMs", "50", "Longest a Redis cache lookup may take; slower (or Redis down) counts as a miss"],
  TOLLGATE_ANALYTICS_ENGINE: ["analyticsEngine", "process", "process | inline: where the embedded analytics engine (chDB) runs — a child process of its own (its memory and CPU off the gateway process), or inside the gateway process"],
  // issue 27: stored Responses API conversations
  TOLLGATE_RESPONSES_TTL_SECONDS: ["responsesTtlSeconds", "2592000", "How long a stored /v1/responses response and its input items live in the state store (default 30 days); the only place the gateway keeps conversation text"],
  TOLLGATE_ADMIN_SIGNIN_FAILURES: ["adminSigninFailures", "10", "Failed admin sign-ins (wrong or revoked admin key) per minute from one source address before it gets 429, per instance; 0 = no limit"],
  TOLLGATE_EMBEDDER_MODEL_DIR: ["embedderModelDir", "", "The semantic tier's built-in embedder (`embeddings_model: local`): a directory with model.onnx + tokenizer.json (default .services/embedder/all-minilm-l6-v2-q, installed by scripts/embedder-model.sh)"],
  TOLLGATE_EMBEDDER_THREADS: ["embedderThreads", "", "ONNX Runtime threads of the built-in embedder's worker (default 1)"],
} as const satisfies Record<string, readonly [keyof Settings, string, string]>;

const NUMERIC = new Set<keyof Settings>(["port", "maxBodyBytes", "drainTimeoutMs", "settleReplayMs", "metricsMaxTenants", "metricsMaxModels", "fsyncMs", "cacheMaxBytes", "cacheTimeoutMs", "responsesTtlSeconds", "adminSigninFailures", "embedderThreads"]);
const LISTS = new Set<keyof Settings>(["corsOrigins", "kafkaBrokers", "allowedHosts", "providerEnvAllow"]);

export class SettingsError extends Error {
  override name = "SettingsError";
}

/** Parse and validate settings; throws SettingsError listing every bad variable. */
export function loadSettings(env: Record<string, string | undefined> = process.env): Settings {
  const raw: Record<string, unknown> = {};
  const problems: string[] = [];
  const source: Partial<Record<keyof Settings, string>> = {};
  for (const [name, [key, def]] of Object.entries(ENV_VARS)) {
    const given = env[name];
    const value = given !== undefined && given !== "" ? given : def;
    source[key] = name;
    if (value === "") continue;
    if (NUMERIC.has(key)) {
      const n = Number(value);
      if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
        problems.push(`${name}=${JSON.stringify(value)}: expected a whole number`);
        continue;
      }
      raw[key] = n;
    } else if (LISTS.has(key)) {
      raw[key] = value.split(",").map((s) => s.trim()).filter(Boolean);
    } else {
      raw[key] = value;
    }
  }
  for (const err of Value.Errors(Settings, raw)) {
    const key = err.path.split("/")[1] as keyof Settings | undefined;
    const name = key ? source[key] : undefined;
    if (name && !problems.some((p) => p.startsWith(`${name}=`))) {
      problems.push(`${name}=${JSON.stringify(env[name] ?? raw[key!])}: ${err.message}`);
    }
  }
  if (problems.length) {
    throw new SettingsError(`Invalid configuration:\n  - ${problems.join("\n  - ")}`);
  }
  return raw as Settings;
}

/** True when `host` is a loopback address (the first-run, no-key mode is only allowed there). */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}
