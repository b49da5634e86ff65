/** Small helpers for provider adapter tests: call options, drain a stream, expect a ProviderError, stop or abort a stream midway. */
import { expect } from "bun:test";
import type { ChatCompletionChunk } from "../../src/canonical/chat.ts";
import { ProviderError } from "../../src/providers/errors.ts";
import type { ProviderCallOptions } from "../../src/providers/types.ts";

/** Per-call options as the tests vary them: a fresh signal unless given, `timeoutMs` only when given. */
export interface CallExtras {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** The options of one adapter call for `model`. */
export function callOptions(model: string, extra: CallExtras = {}): ProviderCallOptions {
  return { model, signal: extra.signal ?? new AbortController().signal, ...(extra.timeoutMs !== undefined ? { timeoutMs: extra.timeoutMs } : {}) };
}

/** What a test overrides of an adapter's connection to the fake upstream. */
export interface UpstreamOverrides {
  apiKey?: string;
  timeoutMs?: number;
  baseUrl?: string;
}

/** The connection fields of a provider config: the fake's URL and key unless overridden, `timeoutMs` only when given. */
export function upstream(defaults: { baseUrl: string; apiKey: string }, over: UpstreamOverrides = {}) {
  return {
    baseUrl: over.baseUrl ?? defaults.baseUrl,
    apiKey: over.apiKey ?? defaults.apiKey,
    ...(over.timeoutMs !== undefined ? { timeoutMs: over.timeoutMs } : {}),
  };
}

/** The text content of streamed chunks, joined. */
export const streamedText = (chunks: ChatCompletionChunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");

/** Every item of an async iterable, in order. */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of it) out.push(item);
  return out;
}

/** Runs `fn`, expecting it to fail with an instance of `type`; returns the error. */
export async function expectFailure<E extends Error>(fn: () => Promise<unknown>, type: abstract new (...args: any[]) => E): Promise<E> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    return err as E;
  }
  throw new Error(`expected a ${type.name}`);
}

/** Runs `fn`, expecting it to fail with a ProviderError; returns the error. */
export function expectProviderError(fn: () => Promise<unknown>): Promise<ProviderError> {
  return expectFailure(fn, ProviderError);
}

/**
 * Iterates a stream that must fail: what arrived before the failure, and the ProviderError.
 * `onItem` runs after each item with the count so far (e.g. to kill the upstream midway).
 */
export async function streamUntilError<T>(it: AsyncIterable<T>, onItem?: (count: number) => void): Promise<{ received: T[]; err: ProviderError }> {
  const received: T[] = [];
  const err = await expectProviderError(async () => {
    for await (const item of it) {
      received.push(item);
      onItem?.(received.length);
    }
  });
  return { received, err };
}

/** Iterates a stream and stops (`break`, so the stream's `return()` runs) once `count` items arrived; what arrived. */
export async function stopAfter<T>(it: AsyncIterable<T>, count: number): Promise<T[]> {
  const received: T[] = [];
  for await (const item of it) {
    received.push(item);
    if (received.length === count) break;
  }
  return received;
}

/**
 * Iterates `start(signal)` and aborts the signal with `reason` once `count` items arrived.
 * `run` settles when the iteration ends (it should reject with `reason`); `received` fills as items arrive.
 */
export function abortAfter<T>(start: (signal: AbortSignal) => AsyncIterable<T>, count: number, reason: unknown): { run: Promise<void>; received: T[] } {
  const ctrl = new AbortController();
  const received: T[] = [];
  const run = (async () => {
    for await (const item of start(ctrl.signal)) {
      received.push(item);
      if (received.length === count) ctrl.abort(reason);
    }
  })();
  return { run, received };
}

/** The fields that decide what a caller does with a failure. */
export const verdict = (err: ProviderError) => ({ status: err.status, code: err.code, retryable: err.retryable, retryAfterMs: err.retryAfterMs });
