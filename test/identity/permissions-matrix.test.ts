/**
 * Every admin route × every role (× the tenant_admin's own tenant and another one), generated
 * from the permission table the admin check uses: allowed → not 401/403; refused → 403
 * `permission_denied`. An admin route (OpenAPI: admin security) missing from the table fails
 * here, and so does a table row no route answers.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { allowed, PERMISSIONS, ROUTE_RULES, ruleFor, ruleForSpec, type RouteRule } from "../../src/identity/permissions.ts";
import { IdentityService } from "../../src/identity/service.ts";
import type { Role } from "../../src/identity/entities.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { adminCall, createAdmin, OWNER_KEY } from "./helpers.ts";

interface Op {
  security?: Array<Record<string, string[]>>;
  "x-tollgate-permission"?: string;
  description?: string;
}
let gw: TestGateway;
let spec: { paths: Record<string, Record<string, Op>> };
const who: Record<Role, { key: string; tenant?: string }> = {} as never;
const keyOf: Record<string, string> = {};

beforeAll(async () => {
  gw = await startTestGateway({ TOLLGATE_ADMIN_KEY: OWNER_KEY });
  const owner = adminCall(gw.url, OWNER_KEY);
  for (const t of ["t1", "t2"]) {
    expect((await owner("POST", "/api/v1/admin/tenants", { id: t, name: t })).status).toBe(201);
    const k = await owner("POST", "/api/v1/admin/keys", { tenant_id: t });
    keyOf[t] = k.body.id;
  }
  who.owner = { key: OWNER_KEY };
  who.operator = { key: (await createAdmin(gw.url, "olga", "operator")).key };
  who.analyst = { key: (await createAdmin(gw.url, "anna", "analyst")).key };
  who.tenant_admin = { key: (await createAdmin(gw.url, "tom", "tenant_admin", "t1")).key, tenant: "t1" };
  spec = (await (await fetch(`${gw.url}/swagger/json`)).json()) as typeof spec;
});
afterAll(() => gw?.dispose());

const adminOps = () =>
  Object.entries(spec.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([, op]) => op.security?.some((s) => "adminKey" in s))
      // Listings any key may read (a virtual key or the admin key: issue 22), not admin routes.
      .filter(() => !/^\/v1\/(models|providers)\b/.test(path))
      .map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
  );

/** The concrete request for a rule, about tenant `tenant` (t1 = the tenant_admin's own, t2 another). */
function requestFor(rule: RouteRule, tenant: "t1" | "t2"): { path: string; body?: unknown } {
  const t = rule.tenant;
  let path = rule.path.replace(/:([A-Za-z_]+)/g, (_, name: string) => {
    if (t && "param" in t && t.param === name) return tenant;
    if (t && "keyParam" in t && t.keyParam === name) return keyOf[tenant]!;
    return name === "user_id" ? "u1" : "zz-none";
  });
  if (t && "query" in t) path += `?${t.query}=${tenant}`;
  if (t && "body" in t) return { path, body: { [t.body]: tenant } };
  // Bodies that pass the route's schema (a schema 400 would answer before the admin check).
  if (rule.method === "POST" && rule.path === "/api/v1/overrides") return { path, body: { user_id: `u-${Math.random()}`, provider: "echo", model: "echo" } };
  if (rule.path === "/api/v1/admin/resolution") return { path: `${path}?model=echo` };
  if (rule.path === "/api/v1/admin/guardrails/test") return { path, body: { text: "x" } };
  if (rule.path === "/api/v1/analysis/reprice") return { path, body: { candidates: [{ price: { input: 1, output: 1 } }] } };
  return { path, ...(["POST", "PUT", "PATCH"].includes(rule.method) ? { body: {} } : {}) };
}

describe("the permission table covers every admin route", () => {
  test("every operation with admin security has a row (a new route without one fails here)", () => {
    const ops = adminOps();
    expect(ops.length).toBeGreaterThan(60);
    const missing = ops.filter((o) => !ruleForSpec(o.method, o.path)).map((o) => `${o.method} ${o.path}`);
    expect(missing).toEqual([]);
  });

  test("every row is a route the app serves, and the document shows its permission", () => {
    const served = new Set(adminOps().map((o) => `${o.method} ${o.path.replace(/\{([A-Za-z_]+)\}/g, ":$1")}`));
    expect(ROUTE_RULES.filter((r) => !served.has(`${r.method} ${r.path}`)).map((r) => `${r.method} ${r.path}`)).toEqual([]);
    for (const o of adminOps()) {
      const rule = ruleForSpec(o.method, o.path)!;
      expect({ route: `${o.method} ${o.path}`, permission: o.op["x-tollgate-permission"] }).toEqual({ route: `${o.method} ${o.path}`, permission: rule.permission });
      expect(o.op.description).toContain(`\`${rule.permission}\``);
    }
  });

  test("a request to an admin route missing from the table is refused for everyone, the owner too", () => {
    expect(ruleFor("GET", "/api/v1/admin/not-declared")).toBeUndefined();
    const identity = new IdentityService({ adminKey: OWNER_KEY, loopback: false });
    const req = new Request("http://x/api/v1/admin/not-declared", { headers: { authorization: `Bearer ${OWNER_KEY}` } });
    expect(() => identity.authorize(req)).toThrow(expect.objectContaining({ code: "permission_undeclared", status: 403 }));
  });
});

describe("route × role matrix", () => {
  test("allowed → not 401/403; refused → 403 permission_denied (tenant_admin: own tenant vs another)", async () => {
    const results: string[] = [];
    let checked = 0;
    for (const rule of ROUTE_RULES) {
      const scoped = PERMISSIONS[rule.permission].tenantScoped && rule.tenant !== undefined;
      for (const role of ["owner", "operator", "analyst", "tenant_admin"] as Role[]) {
        for (const tenant of scoped ? (["t1", "t2"] as const) : (["t1"] as const)) {
          const { path, body } = requestFor(rule, tenant);
          const me = who[role];
          const expectAllowed = allowed({ role, ...(me.tenant ? { tenant: me.tenant } : {}) }, rule.permission, scoped ? tenant : undefined);
          const r = await adminCall(gw.url, me.key)(rule.method, path, body);
          const ok = expectAllowed ? r.status !== 401 && r.status !== 403 : r.status === 403 && r.body.error?.code === "permission_denied";
          if (!ok) results.push(`${role}${scoped ? `@${tenant}` : ""} ${rule.method} ${path}: expected ${expectAllowed ? "allowed" : "403"}, got ${r.status} ${r.body.error?.code ?? ""}`);
          checked++;
        }
      }
    }
    expect(results).toEqual([]);
    expect(checked).toBeGreaterThan(300);
  }, 120_000);

  test("the roles' shape: owner everything, analyst usage only, tenant_admin its tenant only", () => {
    const perms = Object.keys(PERMISSIONS) as (keyof typeof PERMISSIONS)[];
    expect(perms.every((p) => allowed({ role: "owner" }, p, "any"))).toBe(true);
    expect(perms.filter((p) => allowed({ role: "analyst" }, p, undefined)).sort()).toEqual(["self.read", "usage.read"]);
    expect(allowed({ role: "operator" }, "admins.manage", undefined)).toBe(false);
    expect(allowed({ role: "tenant_admin", tenant: "t1" }, "tenant.write", "t1")).toBe(true);
    expect(allowed({ role: "tenant_admin", tenant: "t1" }, "tenant.write", "t2")).toBe(false);
    expect(allowed({ role: "tenant_admin", tenant: "t1" }, "tenant.write", undefined)).toBe(false);
  });
});
