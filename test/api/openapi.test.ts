/**
 * The OpenAPI document at /swagger/json says what the server does: request schemas are the
 * validators, JSON only, a success and error responses on every operation, auth schemes on the
 * routes that need them, links from creates to the entity routes. Rules checked on every
 * operation, so routes added later are held to them too.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Type as T } from "@sinclair/typebox";
import { ChatCompletionRequest } from "../../src/canonical/chat.ts";
import { finishSpec, withInputLimits } from "../../src/api/openapi.ts";
import { ErrorBodySchema, OPTIONAL_BODY } from "../../src/api/schemas.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

interface Op {
  operationId?: string;
  security?: Array<Record<string, string[]>>;
  requestBody?: { required?: boolean; content: Record<string, { schema: unknown }> };
  responses: Record<string, { description?: string; content?: Record<string, { schema: unknown }>; links?: Record<string, { operationId: string; parameters: Record<string, string> }> }>;
}
interface Spec {
  openapi: string;
  paths: Record<string, Record<string, Op>>;
  components: { securitySchemes: Record<string, unknown> };
}

let gw: TestGateway;
let spec: Spec;
const ops = () => Object.entries(spec.paths).flatMap(([path, byMethod]) => Object.entries(byMethod).map(([method, op]) => ({ label: `${method.toUpperCase()} ${path}`, path, method, op })));
const json = (v: unknown) => JSON.parse(JSON.stringify(v));

beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: "openapi-test-admin-key-0123" });
  const res = await fetch(`${gw.url}/swagger/json`);
  expect(res.headers.get("content-type")).toContain("application/json");
  spec = (await res.json()) as Spec;
});
afterAll(() => gw.dispose());

describe("/swagger/json", () => {
  test("OpenAPI 3.1 (TypeBox's JSON Schema), with the security schemes", () => {
    expect(spec.openapi).toBe("3.1.0");
    expect(Object.keys(spec.components.securitySchemes).sort()).toEqual(["adminKey", "serviceKey", "virtualKey"]);
  });

  test("GET /v1/models answers JSON only (not multipart/form-data)", () => {
    expect(Object.keys(spec.paths["/v1/models"]!.get!.responses["200"]!.content!)).toEqual(["application/json"]);
  });

  test("every request body is JSON only, and its schema is the route's validator", () => {
    for (const { label, op } of ops()) {
      if (!op.requestBody) continue;
      expect({ label, types: Object.keys(op.requestBody.content) }).toEqual({ label, types: ["application/json"] });
      expect(JSON.stringify(op.requestBody.content["application/json"]!.schema)).not.toContain(OPTIONAL_BODY);
    }
    // The validator, plus the body guard's limits every body has (numbers within 2^53, no NUL).
    expect(spec.paths["/v1/chat/completions"]!.post!.requestBody!.content["application/json"]!.schema).toEqual(withInputLimits(json(ChatCompletionRequest)) as object);
    expect(JSON.stringify(spec.paths["/v1/chat/completions"]!.post!.requestBody)).toContain(`"maximum":${Number.MAX_SAFE_INTEGER}`);
    expect(spec.paths["/api/v1/providers/{id}/test"]!.post!.requestBody!.required).toBe(false);
  });

  test("every operation documents a success and its errors, each error with the error body", () => {
    for (const { label, op } of ops()) {
      const statuses = Object.keys(op.responses);
      expect({ label, success: statuses.some((s) => /^2\d\d$/.test(s)) }).toEqual({ label, success: true });
      for (const [status, r] of Object.entries(op.responses)) {
        expect({ label, status, described: typeof r.description === "string" }).toEqual({ label, status, described: true });
        // Only the plugin's placeholder lacks content; every error has a JSON body.
        if (/^[45]\d\d$/.test(status)) expect({ label, status, types: Object.keys(r.content ?? {}) }).toEqual({ label, status, types: ["application/json"] });
        for (const type of Object.keys(r.content ?? {})) expect(["application/json", "text/event-stream", "text/plain"]).toContain(type);
      }
      if (op.requestBody) expect({ label, has: ["400", "413"].every((s) => s in op.responses) }).toEqual({ label, has: true });
      if (label.includes("{")) expect({ label, has: ["400", "404"].every((s) => s in op.responses) }).toEqual({ label, has: true });
    }
    expect(spec.paths["/api/v1/admin/tenants/{id}"]!.get!.responses["404"]!.content!["application/json"]!.schema).toEqual(json(ErrorBodySchema));
  });

  test("admin routes name the admin schemes, model routes the virtual key; both document 401", () => {
    const open = new Set(["/api/v1/generate", "/api/v1/keys/self", "/api/v1/health"]);
    for (const { label, path, op } of ops()) {
      if (path.startsWith("/api/v1/") && !open.has(path) && !path.startsWith("/api/v1/usage/") && !path.startsWith("/api/v1/requests") && !path.startsWith("/api/v1/analysis/")) {
        expect({ label, security: op.security }).toEqual({ label, security: [{ adminKey: [] }, { serviceKey: [] }] });
      }
      if (op.security?.length) expect({ label, has401: "401" in op.responses }).toEqual({ label, has401: true });
    }
    for (const path of ["/v1/chat/completions", "/v1/messages", "/v1/embeddings", "/api/v1/generate"]) expect(spec.paths[path]!.post!.security).toEqual([{ virtualKey: [] }]);
  });

  test("creates link to the get, update and delete of what they created", () => {
    const links = spec.paths["/api/v1/providers"]!.post!.responses["201"]!.links!;
    expect(Object.keys(links).sort()).toEqual(["DeleteCreated", "GetCreated", "PostCreatedTest", "UpdateCreated"]);
    expect(spec.paths["/api/v1/admin/keys"]!.post!.responses["201"]!.links!.PostCreatedRotate!.operationId).toBe(spec.paths["/api/v1/admin/keys/{id}/rotate"]!.post!.operationId!);
    const item = spec.paths["/api/v1/providers/{id}"]!;
    expect(links.GetCreated).toMatchObject({ operationId: item.get!.operationId, parameters: { id: "$response.body#/id" } });
    expect(links.DeleteCreated!.operationId).toBe(item.delete!.operationId!);
    // Every link names an operation that exists.
    const ids = new Set(ops().map((o) => o.op.operationId));
    for (const { op } of ops()) for (const r of Object.values(op.responses)) for (const l of Object.values(r.links ?? {})) expect(ids.has(l.operationId)).toBe(true);
  });
});

describe("finishSpec (pure)", () => {
  const raw = () => ({
    openapi: "3.0.3",
    paths: {
      "/things": { post: { operationId: "postThings", requestBody: { required: true, content: { "application/json": { schema: { ...T.Object({}), [OPTIONAL_BODY]: true } }, "multipart/form-data": {}, "text/plain": {} } }, responses: { 201: { description: "made" } } } },
      "/things/{id}": { get: { operationId: "getThing", parameters: [{ in: "path", name: "id" }], responses: { 200: {} } } },
    },
  });

  test("drops the plugin's default content types, marks optional bodies, adds the errors, links and schemes", () => {
    const out = finishSpec(raw()) as unknown as Spec;
    const post = out.paths["/things"]!.post!;
    expect(Object.keys(post.requestBody!.content)).toEqual(["application/json"]);
    expect(post.requestBody!.required).toBe(false);
    expect(Object.keys(post.responses).sort()).toEqual(["201", "400", "413"]);
    expect(post.responses["201"]!.links!.GetCreated!.operationId).toBe("getThing");
    const get = out.paths["/things/{id}"]!.get!;
    expect(Object.keys(get.responses).sort()).toEqual(["200", "400", "404"]);
    expect(get.responses["200"]!.description).toBe("Success");
    expect(out.components.securitySchemes.adminKey).toBeDefined();
  });

  test("leaves the input alone", () => {
    const input = raw();
    const before = JSON.stringify(input);
    finishSpec(input);
    expect(JSON.stringify(input)).toBe(before);
  });
});
