/**
 * Schemas and OpenAPI helpers shared by routes, so the document at /swagger/json says what the
 * server does. A route uses:
 * - `errorResponses({ 400: "…", 404: "…" })` for its error statuses (OpenAI-style body);
 * - `okResponse(schema, "…")` / `jsonContent(schema)` for its success bodies;
 * - `adminDetail(tag, summary, responses)` for an admin route (tags, admin auth, 401/403);
 * - `KEY_SECURITY` for a route called with a virtual key;
 * - `IdParams` as `params` for `/:id` routes (bounded length, published and validated).
 * src/api/openapi.ts then finishes the document for every route (content types, the errors every
 * route of a kind can answer, security schemes, links create → get/patch/delete).
 */
import { Type as T, type TSchema } from "@sinclair/typebox";
import { GatewayError } from "../pipeline/errors.ts";

export const ErrorBodySchema = T.Object({
  error: T.Object({
    message: T.String(),
    type: T.String(),
    code: T.String({ description: "Stable machine-readable code, e.g. `model_not_found`" }),
    param: T.Union([T.String(), T.Null()]),
  }),
});

/** Longest id a path parameter may carry (longer: 400 `invalid_path`, before any route runs). */
export const MAX_ID_LENGTH = 256;

/** `params` of a `/:id` route: the same schema validates and is published. */
export const IdParams = T.Object({ id: T.String({ minLength: 1, maxLength: MAX_ID_LENGTH, description: "The entity id (percent-encoded in the path)" }) });

/** Security requirements (schemes defined in src/api/openapi.ts): the admin key, as a bearer token or `X-Service-Key`. */
export const ADMIN_SECURITY: Array<Record<string, string[]>> = [{ adminKey: [] }, { serviceKey: [] }];
/** A virtual key (`Authorization: Bearer tg-…` or `x-api-key`). */
export const KEY_SECURITY: Array<Record<string, string[]>> = [{ virtualKey: [] }];

/** OpenAPI response entries by status, as routes put them in `detail.responses`. */
export type Responses = Record<string, { description: string; content?: ReturnType<typeof jsonContent> | Record<string, { schema?: Record<string, never> }> }>;

/** An OpenAPI `content` entry for a TypeBox schema (TypeBox emits JSON Schema; the typings differ). */
export function jsonContent(schema: object): { "application/json": { schema: Record<string, never> } } {
  return { "application/json": { schema: schema as Record<string, never> } };
}

/** OpenAPI response entries for error statuses, all with the OpenAI-style error body. */
export function errorResponses(entries: Record<number, string>): Responses {
  return Object.fromEntries(
    Object.entries(entries).map(([status, description]) => [status, { description, content: jsonContent(ErrorBodySchema) }]),
  );
}

/** One success response with a JSON body (`status` 200 unless given). */
export function okResponse(schema: TSchema, description: string, status = 200): Responses {
  return { [status]: { description, content: jsonContent(schema) } };
}

/** A config entity as the admin API shows it: its fields plus id, version and who changed it last. */
export const EntitySchema = T.Object(
  { id: T.String(), version: T.Integer(), updated_at: T.String(), updated_by: T.String(), config_version: T.Optional(T.Integer()) },
  { additionalProperties: true },
);
/** The answer to a delete. */
export const DeletedSchema = T.Object({ id: T.String(), deleted: T.Literal(true), config_version: T.Integer() }, { additionalProperties: true });
/** `{ object: "list", data: [...] }`. */
export function ListOf(item: TSchema) {
  return T.Object({ object: T.Literal("list"), data: T.Array(item) }, { additionalProperties: true });
}
/** Any JSON object (a documented body whose fields are described in prose). */
export const AnyObject = T.Object({}, { additionalProperties: true });

/** `detail` of an admin route: tag, summary, admin auth, and its responses plus 401/403. */
export function adminDetail(tag: string, summary: string, responses: Responses = {}) {
  return {
    tags: [tag],
    summary,
    security: ADMIN_SECURITY,
    responses: {
      ...errorResponses({ 401: "Admin key missing (`missing_admin_key`) or wrong (`invalid_admin_key`)", 403: "Admin API disabled (`admin_disabled`)" }),
      ...responses,
    },
  };
}

/**
 * The errors of a model call (chat, messages, generate, embeddings): what the pipeline can
 * answer besides the route's own 400/404. 502/503/504 are upstream failures, by design.
 */
export const MODEL_CALL_ERRORS = {
  400: "Invalid request (`invalid_request`, `invalid_json`, `empty_messages`, …)",
  401: "Virtual key missing or wrong (`missing_api_key`, `invalid_api_key`, …)",
  403: "Key or tenant not allowed (`tenant_disabled`, `model_not_allowed`, …)",
  404: "Unknown model (`model_not_found`)",
  413: "Body too large (`payload_too_large`)",
  429: "Rate limit or budget exceeded (`rate_limit_exceeded`, `budget_exceeded`)",
  502: "Upstream provider failed",
  503: "Every target unavailable (breakers open, overloaded)",
  504: "Upstream provider timed out",
} as const;

/** A JSON body with these properties (others allowed). */
export function Loose(props: Parameters<typeof T.Object>[0]) {
  return T.Object(props, { additionalProperties: true });
}

/** A 200 that is JSON, or Server-Sent Events with `stream: true`. */
export function jsonOrSse(schema: TSchema, description: string): Responses {
  return { 200: { description, content: { ...jsonContent(schema), "text/event-stream": { schema: T.String() as unknown as Record<string, never> } } } };
}

/** Marks a body schema as optional in the document (the plugin always says `required: true`). */
export const OPTIONAL_BODY = "x-tollgate-optional-body";
/** `body` of a route that also takes no body at all (e.g. an action with optional settings). */
export function OptionalBody<S extends TSchema>(schema: S) {
  // A spread copy keeps TypeBox's symbol keys, so the copy still validates like `schema`.
  return T.Optional({ ...schema, [OPTIONAL_BODY]: true } as S);
}

/**
 * The body of an OptionalBody route: undefined, or the object. Elysia lets any non-object value
 * through an optional body, so the route calls this first: a string, array or null is a 400.
 */
export function objectOrNone<B>(body: B): B {
  if (body !== undefined && (typeof body !== "object" || body === null || Array.isArray(body))) {
    throw new GatewayError({ status: 400, code: "invalid_request", message: "Invalid request: the body must be a JSON object (or absent)" });
  }
  return body;
}

