/**
 * GatewayError: the one error type that crosses the HTTP boundary.
 *
 * Every 4xx/5xx the gateway sends has an OpenAI-style body
 * `{ "error": { "message", "type", "code", "param" } }` with a stable `code`.
 * This module is a leaf: anything (providers, plugins, api) may import it.
 */

export type ErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "rate_limit_error"
  | "upstream_error"
  | "timeout_error"
  | "server_error"
  | "overloaded_error";

export interface ErrorBody {
  error: { message: string; type: ErrorType; code: string; param: string | null; [extra: string]: unknown };
}

export class GatewayError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly code: string;
  readonly param: string | null;
  /** Extra fields placed in the error body (e.g. the attempts made). */
  readonly details: Record<string, unknown> | undefined;
  /** Response headers to add (e.g. Retry-After). */
  readonly headers: Record<string, string> | undefined;

  constructor(opts: {
    status: number;
    code: string;
    message: string;
    type?: ErrorType;
    param?: string | null;
    details?: Record<string, unknown>;
    headers?: Record<string, string>;
    cause?: unknown;
  }) {
    super(opts.message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "GatewayError";
    this.status = opts.status;
    this.code = opts.code;
    this.type = opts.type ?? defaultType(opts.status);
    this.param = opts.param ?? null;
    this.details = opts.details;
    this.headers = opts.headers;
  }

  toBody(): ErrorBody {
    return {
      error: { message: this.message, type: this.type, code: this.code, param: this.param, ...this.details },
    };
  }
}

function defaultType(status: number): ErrorType {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 429) return "rate_limit_error";
  if (status === 502) return "upstream_error";
  if (status === 503) return "overloaded_error";
  if (status === 504) return "timeout_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

/** Any thrown value as a GatewayError; unknown errors become a 500 `internal_error`. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new GatewayError({ status: 500, code: "internal_error", message: `Internal error: ${message}`, cause: err });
}

/** The stable codes the gateway itself produces (plugins may add their own). */
export const errors = {
  invalidJson: (detail: string) =>
    new GatewayError({ status: 400, code: "invalid_json", message: `Request body is not valid JSON: ${detail}` }),
  invalidRequest: (message: string, param?: string) =>
    new GatewayError({ status: 400, code: "invalid_request", message, param: param ?? null }),
  emptyMessages: () =>
    new GatewayError({ status: 400, code: "empty_messages", message: "`messages` must contain at least one message", param: "messages" }),
  payloadTooLarge: (limit: number) =>
    new GatewayError({ status: 413, code: "payload_too_large", message: `Request body exceeds the limit of ${limit} bytes` }),
  modelNotFound: (model: string) =>
    new GatewayError({ status: 404, code: "model_not_found", message: `The model \`${model}\` does not exist or is not routed by this gateway`, param: "model" }),
  overloaded: (message: string) => new GatewayError({ status: 503, code: "overloaded", message, headers: { "retry-after": "1" } }),
  upstream: (message: string, code = "upstream_error", status = 502) => new GatewayError({ status, code, message }),
  timeout: (message: string) => new GatewayError({ status: 504, code: "upstream_timeout", message }),
  unauthorized: (message = "Missing or invalid API key") =>
    new GatewayError({ status: 401, code: "invalid_api_key", message }),
} as const;
