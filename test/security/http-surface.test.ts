/**
 * Issue 22, finding 1 and 3 at the HTTP layer: the admin API always needs a key, bodies must be
 * JSON (415 otherwise, before a byte is read), CORS answers no origin unless allow-listed,
 * `Host` is checked on a loopback bind, and every body's bytes are counted against the limit.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { request as httpRequest } from "node:http";
import { bareHost, checkHost, isJsonType, loopbackHostNames } from "../../src/api/request-guard.ts";
import { adminHeaders, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

let gw: TestGateway;
let corsGw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_MAX_BODY_BYTES: "65536" });
  corsGw = await startTestGateway({ TOLLGATE_CORS_ORIGINS: "https://app.example" });
});
afterAll(async () => {
  await gw?.dispose();
  await corsGw?.dispose();
});

const tenantBody = (id: string) => JSON.stringify({ id, name: id });
const tenantExists = (g: TestGateway, id: string) => g.config.state.entities.tenant?.[id] !== undefined;

/** A raw HTTP/1.1 request with any Host header (fetch may not let us set it). */
function rawGet(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, method: "GET", headers: { host } }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the admin API always needs a key (also on loopback, also before any virtual key exists)", () => {
  test("no key → 401, wrong key → 401, the key → 200", async () => {
    const url = `${gw.url}/api/v1/admin/config`;
    const none = await fetch(url);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe("missing_admin_key");
    expect((await fetch(url, { headers: { authorization: "Bearer wrong-key-wrong-key-wrong" } })).status).toBe(401);
    expect((await fetch(url, { headers: adminHeaders(gw.adminKey) })).status).toBe(200);
  });

  test("a keyless POST creates nothing", async () => {
    const res = await fetch(`${gw.url}/api/v1/admin/tenants`, { method: "POST", headers: { "content-type": "application/json" }, body: tenantBody("sneaky") });
    expect(res.status).toBe(401);
    expect(tenantExists(gw, "sneaky")).toBe(false);
  });

  test("usage, prices and provider tests need the key too", async () => {
    for (const [method, path] of [["GET", "/api/v1/usage/summary"], ["GET", "/api/v1/prices"], ["POST", "/api/v1/providers/echo/test"], ["GET", "/api/v1/admin/keys"]] as const) {
      const res = await fetch(`${gw.url}${path}`, { method });
      expect([401, 503]).toContain(res.status); // 503 only where analytics is off, never 200
      if (path !== "/api/v1/usage/summary") expect(res.status).toBe(401);
    }
  });
});

describe("bodies must be JSON: 415 otherwise", () => {
  const kinds: Array<[string, Record<string, string>, string | Blob]> = [
    ["text/plain (a cross-site simple request)", { "content-type": "text/plain;charset=UTF-8" }, tenantBody("plain")],
    ["a form", { "content-type": "application/x-www-form-urlencoded" }, tenantBody("form")],
    ["no content type at all", {}, new Blob([tenantBody("untyped")])],
  ];
  for (const [what, headers, body] of kinds) {
    test(`${what} → 415 unsupported_media_type, nothing created (even with the admin key)`, async () => {
      const res = await fetch(`${gw.url}/api/v1/admin/tenants`, { method: "POST", headers: { authorization: `Bearer ${gw.adminKey}`, ...headers }, body });
      expect(res.status).toBe(415);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unsupported_media_type");
      expect(Object.keys(gw.config.state.entities.tenant ?? {}).some((id) => ["plain", "form", "untyped"].includes(id))).toBe(false);
    });
  }

  test("multipart → 415 on model routes too, before the body is read", async () => {
    const form = new FormData();
    form.set("model", "echo");
    form.set("blob", new Blob([new Uint8Array(40_000)]));
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", body: form });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unsupported_media_type");
  });

  test("application/json with parameters and +json types are accepted", async () => {
    const body = JSON.stringify({ model: "echo", messages: [{ role: "user", content: "hi" }] });
    for (const type of ["application/json; charset=utf-8", "Application/JSON", "application/vnd.api+json"]) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": type }, body });
      expect(res.status).toBe(200);
    }
  });

  test("a bodiless POST without a content type still works (actions)", async () => {
    const res = await fetch(`${gw.url}/api/v1/providers/echo/test`, { method: "POST", headers: { authorization: `Bearer ${gw.adminKey}` } });
    expect(res.status).toBe(200);
  });
});

describe("body size: every body is counted, the server refuses past the limit", () => {
  test("a chunked JSON body past the limit → 413 (no content-length to trust)", async () => {
    const big = new TextEncoder().encode(JSON.stringify({ model: "echo", messages: [{ role: "user", content: "x".repeat(100_000) }] }));
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < big.length; i += 8192) c.enqueue(big.subarray(i, i + 8192));
        c.close();
      },
    });
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: stream });
    expect(res.status).toBe(413);
  });

  test("a multipart body past the limit never reaches a route: refused, the gateway still serves", async () => {
    const form = new FormData();
    form.set("file", new Blob([new Uint8Array(1 << 20)]));
    const res = await fetch(`${gw.url}/api/v1/admin/tenants`, { method: "POST", headers: { authorization: `Bearer ${gw.adminKey}` }, body: form });
    expect([413, 415]).toContain(res.status);
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  });

  test("the server's own cap is the configured limit (+64 KiB margin), not Bun's 128 MiB default", async () => {
    expect(gw.settings.maxBodyBytes).toBe(65536);
    expect(gw.maxRequestBodySize).toBe(65536 + 65536);
    // Past the cap the server itself refuses, whatever the content type.
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: new Uint8Array(4 << 20) });
    expect(res.status).toBe(413);
  });
});

describe("CORS: no origin unless allow-listed", () => {
  const preflight = (g: TestGateway, origin: string) =>
    fetch(`${g.url}/api/v1/admin/tenants`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type,authorization" } });

  test("default: no Access-Control-Allow-Origin anywhere", async () => {
    const pre = await preflight(gw, "https://evil.example");
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
    const get = await fetch(`${gw.url}/health`, { headers: { origin: "https://evil.example" } });
    expect(get.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("TOLLGATE_CORS_ORIGINS allows exactly the listed origin", async () => {
    const ok = await preflight(corsGw, "https://app.example");
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example");
    const other = await preflight(corsGw, "https://evil.example");
    expect(other.headers.get("access-control-allow-origin")).not.toBe("https://evil.example");
    expect(other.headers.get("access-control-allow-origin")).not.toBe("*");
  });
});

describe("Host check on a loopback bind (DNS rebinding)", () => {
  test("a foreign Host name → 421 host_not_allowed, on model and admin routes alike", async () => {
    for (const path of ["/health", "/api/v1/admin/config", "/v1/models"]) {
      const res = await rawGet(gw.port, path, `rebind.evil.example:${gw.port}`);
      expect(res.status).toBe(421);
      expect(JSON.parse(res.body).error.code).toBe("host_not_allowed");
    }
  });

  test("the bound names pass", async () => {
    for (const host of [`127.0.0.1:${gw.port}`, `localhost:${gw.port}`, "localhost", `[::1]:${gw.port}`]) {
      expect((await rawGet(gw.port, "/health", host)).status).toBe(200);
    }
  });

  test("pure decisions", () => {
    expect(bareHost("[::1]:8200")).toBe("::1");
    expect(bareHost("LocalHost:80")).toBe("localhost");
    expect(bareHost("::1")).toBe("::1");
    const names = loopbackHostNames("127.0.0.1", ["gw.internal"]);
    expect(checkHost("gw.internal:9", names)).toBeUndefined();
    expect(checkHost("127.0.0.1.nip.io", names)?.status).toBe(421);
    expect(checkHost(null, names)?.status).toBe(421);
    expect(checkHost("anything", undefined)).toBeUndefined();
    expect(isJsonType("application/json")).toBe(true);
    expect(isJsonType("text/plain")).toBe(false);
    expect(isJsonType("multipart/form-data; boundary=x")).toBe(false);
    expect(isJsonType("application/jsonp")).toBe(false);
  });
});
