/** Small helpers for provider adapter tests: drain a stream, expect a ProviderError. */
import { expect } from "bun:test";
import { ProviderError } from "../../src/providers/errors.ts";

/** Every item of an async iterable, in order. */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of it) out.push(item);
  return out;
}

/** Runs `fn`, expecting it to fail with a ProviderError; returns the error. */
export async function expectProviderError(fn: () => Promise<unknown>): Promise<ProviderError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  }
  throw new Error("expected a ProviderError");
}

/** Iterates a stream that must fail: what arrived before the failure, and the ProviderError. */
export async function streamUntilError<T>(it: AsyncIterable<T>): Promise<{ received: T[]; err: ProviderError }> {
  const received: T[] = [];
  const err = await expectProviderError(async () => {
    for await (const item of it) received.push(item);
  });
  return { received, err };
}

/** The fields that decide what a caller does with a failure. */
export const verdict = (err: ProviderError) => ({ status: err.status, code: err.code, retryable: err.retryable, retryAfterMs: err.retryAfterMs });
