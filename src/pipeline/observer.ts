/**
 * What the runner tells an observer (tracing) about a request as it runs: phases with their
 * hooks, and the end. The runner stays free of any telemetry library; src/telemetry implements it.
 */
import type { Ctx, Outcome } from "./context.ts";

export interface PipelineObserver {
  /** A phase with `hooks` hooks starts; the returned function is called when it ends (with the error it threw, if any). */
  phaseStarted(ctx: Ctx, phase: string, hooks: number): ((error?: unknown) => void) | undefined;
  /** One hook of a phase ended; `startedAt` is its `performance.now()` start. */
  hookEnded(ctx: Ctx, phase: string, plugin: string, startedAt: number, error?: unknown): void;
  /** The request ended (after onEnd hooks, right after `request.completed` was emitted). */
  finished(ctx: Ctx, outcome: Outcome): void;
}
