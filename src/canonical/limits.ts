/**
 * Bounds on identifiers a client chooses (model, user, service, task type, metadata), so an
 * unauthenticated request cannot put a megabyte into an event (issue 22: a 1.5 MB `model`
 * made an event Kafka refuses). Schemas use MAX_ID_CHARS as `maxLength`; values read from
 * headers go through `checkIdentifier`; the rejected-request path cuts with `boundIdentifier`.
 */
import { GatewayError } from "../pipeline/errors.ts";

export const MAX_ID_CHARS = 256;
/** OpenAI's own bounds on `metadata`: 16 pairs, values up to 512 characters. */
export const MAX_METADATA_PAIRS = 16;
export const MAX_METADATA_VALUE_CHARS = 512;

/** A value already refused (or never validated) cut to MAX_ID_CHARS for the event that records it. */
export function boundIdentifier(value: string): string {
  return value.length > MAX_ID_CHARS ? `${value.slice(0, MAX_ID_CHARS - 1)}…` : value;
}

/** A 400 when an identifier from a header or metadata is longer than MAX_ID_CHARS. */
export function checkIdentifier(param: string, value: string | undefined | null): void {
  if (value !== undefined && value !== null && value.length > MAX_ID_CHARS) {
    throw new GatewayError({ status: 400, code: "invalid_request", param, message: `\`${param}\` is longer than ${MAX_ID_CHARS} characters` });
  }
}
