/**
 * HTTP helpers shared by the routes: a size-limited JSON body parser, error rendering,
 * and the mapping from Elysia's own errors to stable codes.
 */
import { errors, GatewayError } from "../pipeline/errors.ts";
import { checkJsonText, checkJsonValue, decodeUtf8 } from "./json-guard.ts";
import { isJsonType, unsupportedMediaType } from "./request-guard.ts";

/**
 * Read a request body as JSON, refusing more than `limit` bytes (by header and by count).
 * Every body this API takes is JSON: another declared content type (form, multipart,
 * text/plain) is a 415 before a byte is read, and so is a body sent without a content type.
 */
export async function readJsonBody(request: Request, limit: number): Promise<unknown> {
  const type = request.headers.get("content-type");
  if (type !== null && type.trim() !== "" && !isJsonType(type)) throw unsupportedMediaType(type);
  const header = request.headers.get("content-length");
  const declared = header === null ? NaN : Number(header);
  if (Number.isFinite(declared) && declared > limit) throw errors.payloadTooLarge(limit);
  // With a declared length within the limit, read it whole (fast path); otherwise count as we read.
  const text = Number.isFinite(declared) ? decodeUtf8(await request.arrayBuffer()) : await readTextLimited(request, limit);
  if (text.trim() === "") {
    // No body and no content type: a bodiless POST (e.g. an action). Routes that need a body still refuse it.
    if (!request.headers.get("content-type") || request.method === "DELETE") return undefined;
    throw errors.invalidJson("the body is empty");
  }
  if (!type) throw unsupportedMediaType(null);
  const seen = checkJsonText(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw errors.invalidJson((err as Error).message);
  }
  checkJsonValue(value, seen);
  return value;
}

async function readTextLimited(request: Request, limit: number): Promise<string> {
  if (!request.body) return "";
  const reader = request.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw errors.payloadTooLarge(limit);
    }
    parts.push(value);
  }
  return decodeUtf8(Buffer.concat(parts));
}

export function errorResponse(error: GatewayError, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(error.toBody()), {
    status: error.status,
    headers: { "content-type": "application/json", ...headers, ...error.headers },
  });
}

interface ValueErrorLike {
  path?: string;
  message?: string;
  value?: unknown;
}
interface ElysiaLikeError {
  code?: unknown;
  status?: unknown;
  message?: string;
  valueError?: ValueErrorLike;
  all?: ValueErrorLike[];
}

/** The validation error closest to the root: `messages: Expected array`, not `messages/0/role`. */
function shallowest(e: ElysiaLikeError): ValueErrorLike | undefined {
  let all: ValueErrorLike[] = [];
  try {
    all = Array.isArray(e.all) ? e.all : [];
  } catch {
    return undefined;
  }
  const depth = (x: ValueErrorLike) => (x.path ?? "").split("/").length;
  return all.filter((x) => typeof x.path === "string").sort((a, b) => depth(a) - depth(b))[0];
}

/** Elysia's errors (validation, not found, parse) and anything else, as a GatewayError. */
export function fromElysiaError(code: unknown, error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  // Errors thrown by our body parser arrive wrapped in Elysia's ParseError.
  if (error instanceof Error && error.cause instanceof GatewayError) return error.cause;
  const e = (error ?? {}) as ElysiaLikeError;
  switch (code) {
    case "VALIDATION": {
      const first = shallowest(e) ?? e.valueError;
      const path = first?.path ?? "";
      const param = path.replace(/^\//, "").replace(/\//g, ".") || null;
      if (path === "/messages" && Array.isArray(first?.value) && first.value.length === 0) {
        return errors.emptyMessages();
      }
      const detail = first?.message ?? "invalid value";
      return new GatewayError({
        status: 400,
        code: "invalid_request",
        message: param ? `Invalid \`${param}\`: ${detail}` : `Invalid request: ${detail}`,
        param,
      });
    }
    case "NOT_FOUND":
      return new GatewayError({ status: 404, code: "route_not_found", message: "No such route" });
    case "PARSE":
      return errors.invalidJson(e.message ?? "cannot parse the body");
    case "INVALID_COOKIE_SIGNATURE":
    case "INVALID_FILE_TYPE":
      return errors.invalidRequest(e.message ?? String(code));
    default: {
      const status = typeof e.status === "number" ? e.status : 500;
      if (status >= 400 && status < 500) return new GatewayError({ status, code: "invalid_request", message: e.message ?? "Bad request" });
      return new GatewayError({ status: 500, code: "internal_error", message: "Internal error", cause: error });
    }
  }
}
