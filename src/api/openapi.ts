/**
 * Finishes the OpenAPI document @elysiajs/swagger generates from the routes, for every route
 * (including ones added later), so it says what the server really does:
 * - bodies are JSON only (the server parses every body as JSON): the plugin's default
 *   `multipart/form-data` and `text/plain` entries are dropped, for requests and responses;
 * - the errors any route of a kind can answer are added when the route did not list them:
 *   400 `invalid_path` + 404 for path parameters, 400 for query parameters, 400 `invalid_json` /
 *   `invalid_request` + 413 `payload_too_large` for bodies, 401/403 for authenticated routes;
 * - the security schemes (`adminKey`, `serviceKey`, `virtualKey`);
 * - `links` from each create (POST /x) to the get/patch/delete of `/x/{id}` with the created id.
 * Pure: document in, document out.
 */
import { ErrorBodySchema, OPTIONAL_BODY } from "./schemas.ts";

import { PERMISSIONS, ruleForSpec } from "../identity/permissions.ts";

type Json = Record<string, unknown>;
interface Operation extends Json {
  parameters?: Array<{ in: string; name: string; schema?: Json }>;
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Json }> };
  responses?: Record<string, { description?: string; content?: Record<string, unknown>; links?: Json }>;
  security?: Array<Record<string, string[]>>;
}

const METHODS = ["get", "put", "post", "patch", "delete", "head", "options", "trace"];
const PLUGIN_DEFAULT_TYPES = ["application/json", "multipart/form-data", "text/plain"];

export const SECURITY_SCHEMES = {
  adminKey: { type: "http", scheme: "bearer", description: "The admin key (TOLLGATE_ADMIN_KEY) as `Authorization: Bearer …`" },
  serviceKey: { type: "apiKey", in: "header", name: "x-service-key", description: "The admin key in `X-Service-Key`" },
  virtualKey: { type: "http", scheme: "bearer", description: "A virtual key (`tg-…`) as `Authorization: Bearer …` (or `x-api-key`, or `X-Service-Key`)" },
};

const errorEntry = (description: string) => ({ description, content: { "application/json": { schema: ErrorBodySchema } } });

/** Only `application/json` when the plugin filled in its default list of three types. */
function jsonOnly(content: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!content) return content;
  const types = Object.keys(content);
  if (types.length === PLUGIN_DEFAULT_TYPES.length && PLUGIN_DEFAULT_TYPES.every((t) => types.includes(t))) {
    return { "application/json": content["application/json"] };
  }
  return content;
}

/**
 * The body guard's limits (src/api/json-guard.ts) written into a request schema, so the document
 * says what is accepted: numbers within ±(2^53 − 1), strings without NUL. Returns a new schema.
 */
export function withInputLimits(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withInputLimits);
  if (!schema || typeof schema !== "object") return schema;
  const out: Json = {};
  for (const [k, v] of Object.entries(schema as Json)) {
    out[k] = ["properties", "patternProperties", "$defs", "definitions"].includes(k) && v && typeof v === "object"
      ? Object.fromEntries(Object.entries(v as Json).map(([name, sub]) => [name, withInputLimits(sub)]))
      : ["enum", "const", "default", "examples", "example", "required"].includes(k) ? v : withInputLimits(v);
  }
  const types = Array.isArray(out.type) ? (out.type as string[]) : [out.type];
  if (types.includes("integer") || types.includes("number")) {
    const max = Number.MAX_SAFE_INTEGER;
    if (typeof out.maximum !== "number" || out.maximum > max) out.maximum = max;
    if (typeof out.minimum !== "number" || out.minimum < -max) out.minimum = -max;
  }
  if (types.includes("string") && out.pattern === undefined && out.format === undefined && out.const === undefined && out.enum === undefined) {
    out.pattern = "^[^\\u0000]*$";
  }
  return out;
}

function addMissing(responses: NonNullable<Operation["responses"]>, status: number, description: string) {
  if (!responses[String(status)]) responses[String(status)] = errorEntry(description);
}

function finishOperation(op: Operation) {
  if (op.requestBody?.content) {
    op.requestBody.content = jsonOnly(op.requestBody.content) as typeof op.requestBody.content;
    for (const media of Object.values(op.requestBody.content ?? {})) {
      if (media?.schema?.[OPTIONAL_BODY]) {
        delete media.schema[OPTIONAL_BODY];
        op.requestBody.required = false;
      }
    }
  }
  const responses = (op.responses ??= {});
  for (const r of Object.values(responses)) if (r && r.content) r.content = jsonOnly(r.content);
  for (const media of Object.values(op.requestBody?.content ?? {})) if (media?.schema) media.schema = withInputLimits(media.schema) as Json;
  for (const p of op.parameters ?? []) if (p.schema) p.schema = withInputLimits(p.schema) as Json;
  const params = op.parameters ?? [];
  if (params.some((p) => p.in === "path")) {
    addMissing(responses, 400, "Invalid path parameter (`invalid_path`: not percent-encoding, too long, control characters)");
    addMissing(responses, 404, "No such entity (`not_found`)");
  }
  if (params.some((p) => p.in === "query")) addMissing(responses, 400, "Invalid query parameter (`invalid_request`; `invalid_query`: repeated, not percent-encoding)");
  if (op.requestBody) {
    addMissing(responses, 400, "Invalid body (`invalid_json`, `invalid_request`, `invalid_encoding`, `invalid_characters`, `json_too_deep`, `number_out_of_range`)");
    addMissing(responses, 413, "Body too large (`payload_too_large`)");
  }
  if (op.security?.length) {
    addMissing(responses, 401, "Credential missing or wrong");
    addMissing(responses, 403, "Credential not allowed here");
  }
  // The plugin's placeholder `200: {}` needs a description to be valid OpenAPI.
  for (const r of Object.values(responses)) if (r && r.description === undefined) r.description = "Success";
}

/**
 * Links from POST /x (its 200/201 answer's `id`) to the operations on `/x/{id}` (GetCreated,
 * UpdateCreated, DeleteCreated) and below it (e.g. `PostCreatedRotate` for `/x/{id}/rotate`).
 */
function addLinks(paths: Record<string, Record<string, Operation>>) {
  const verbs: Record<string, string> = { get: "Get", patch: "Update", put: "Replace", delete: "Delete", post: "Post" };
  for (const [path, ops] of Object.entries(paths)) {
    const create = ops.post;
    if (!create) continue;
    const prefix = `${path}/{id}`;
    const targets = Object.entries(paths).filter(([p]) => p === prefix || (p.startsWith(`${prefix}/`) && !p.slice(prefix.length).includes("{")));
    if (targets.length === 0) continue;
    for (const status of ["201", "200"]) {
      const response = create.responses?.[status];
      if (!response) continue;
      const links: Json = { ...(response.links ?? {}) };
      for (const [p, item] of targets) {
        const suffix = p.slice(prefix.length).split("/").filter(Boolean).map((s) => s.replace(/(^|[-_])(\w)/g, (_m, _sep, c: string) => c.toUpperCase())).join("");
        for (const [method, target] of Object.entries(item)) {
          if (!verbs[method] || !target?.operationId) continue;
          const name = `${verbs[method]}Created${suffix}`;
          links[name] = { operationId: target.operationId, parameters: { id: "$response.body#/id" }, description: `${verbs[method]} ${suffix ? `${p.slice(prefix.length)} of ` : ""}the entity just created` };
        }
      }
      if (Object.keys(links).length) response.links = links;
    }
  }
}

/**
 * An admin operation names the permission it needs (`x-tollgate-permission`, from the one table
 * in src/identity/permissions.ts) and the roles holding it, in its description too.
 */
function documentPermission(method: string, path: string, op: Operation): void {
  const rule = ruleForSpec(method, path);
  if (!rule) return;
  const p = PERMISSIONS[rule.permission];
  const roles = p.roles.map((r) => (r === "tenant_admin" && p.tenantScoped ? "tenant_admin (own tenant)" : r)).join(", ");
  op["x-tollgate-permission"] = rule.permission;
  addMissing((op.responses ??= {}), 429, "Too many failed admin sign-ins from this address (`too_many_failed_attempts`, with `retry-after`)");
  op["x-tollgate-roles"] = [...p.roles];
  op.description = `${typeof op.description === "string" && op.description ? `${op.description}\n\n` : ""}**Permission:** \`${rule.permission}\` (${roles}).`;
}

/** The finished document (a new object; the input is not changed). */
export function finishSpec<D extends Json>(input: D): D {
  const doc = structuredClone(input) as D & { paths?: Record<string, Record<string, Operation>>; components?: Json };
  const paths = doc.paths ?? {};
  for (const [path, ops] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!METHODS.includes(method) || !op || typeof op !== "object") continue;
      finishOperation(op);
      documentPermission(method, path, op); // issue 28: the permission table, in the document
    }
  }
  addLinks(paths);
  // TypeBox emits JSON Schema 2020-12 (`const`, `anyOf` with `null`): that is OpenAPI 3.1.
  (doc as Json).openapi = "3.1.0";
  const components = (doc.components ??= {}) as Json;
  components.securitySchemes = { ...((components.securitySchemes as Json | undefined) ?? {}), ...SECURITY_SCHEMES };
  return doc;
}
