import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { isLoopback, loadSettings, SettingsError } from "../../src/config/env.ts";

describe("loadSettings", () => {
  test("defaults with no env", () => {
    expect(loadSettings({})).toEqual({
      port: 8200,
      host: "127.0.0.1",
      dataDir: "./data",
      maxBodyBytes: 4 * 1024 * 1024,
      providerEnvPrefix: "TOLLGATE_PROVIDER_",
      openaiBaseUrl: "https://api.openai.com/v1",
      pluginsDir: "./plugins",
      logLevel: "info",
      kafkaTopicPrefix: "tollgate.",
      redisPrefix: "tollgate:",
      analytics: "on",
      clickhouseDatabase: "tollgate",
      drainTimeoutMs: 25000,
      settleReplayMs: 120000,
      fsyncMs: 5,
      cacheMaxBytes: 64 * 1024 * 1024,
      cacheTimeoutMs: 50,
      analyticsEngine: "process",
      responsesTtlSeconds: 2592000,
      adminSigninFailures: 10,
    });
  });

  test("reads and converts values", () => {
    const s = loadSettings({ PORT: "9000", TOLLGATE_MAX_BODY_BYTES: "2048", TOLLGATE_CORS_ORIGINS: "https://a.example, https://b.example", OPENAI_API_KEY: "sk-x", TOLLGATE_ADMIN_KEY: "a-long-admin-key-123" });
    expect(s.port).toBe(9000);
    expect(s.maxBodyBytes).toBe(2048);
    expect(s.corsOrigins).toEqual(["https://a.example", "https://b.example"]);
    expect(s.openaiApiKey).toBe("sk-x");
    expect(s.adminKey).toBe("a-long-admin-key-123");
  });

  test("every bad value is named in one clear error", () => {
    let err: unknown;
    try {
      loadSettings({ PORT: "eighty", TOLLGATE_MAX_BODY_BYTES: "12", OPENAI_BASE_URL: "ftp://x", TOLLGATE_ADMIN_KEY: "short", LOG_LEVEL: "loud" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SettingsError);
    const msg = (err as Error).message;
    for (const name of ["PORT=\"eighty\"", "TOLLGATE_MAX_BODY_BYTES", "OPENAI_BASE_URL", "TOLLGATE_ADMIN_KEY", "LOG_LEVEL"]) expect(msg).toContain(name);
  });

  test("a port out of range is refused", () => {
    expect(() => loadSettings({ PORT: "70000" })).toThrow(/PORT/);
  });

  test("isLoopback", () => {
    expect(isLoopback("127.0.0.1")).toBe(true);
    expect(isLoopback("localhost")).toBe(true);
    expect(isLoopback("::1")).toBe(true);
    expect(isLoopback("0.0.0.0")).toBe(false);
  });

  test("the process refuses to start on a bad value, exit code 2 and a message naming it", () => {
    const r = spawnSync(process.execPath, ["run", "src/main.ts"], {
      cwd: resolve(import.meta.dir, "../.."),
      env: { ...process.env, PORT: "not-a-port" },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("PORT=\"not-a-port\": expected a whole number");
  });
});
