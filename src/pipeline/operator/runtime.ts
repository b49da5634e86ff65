/**
 * One loaded operator plugin at run time: its manifest, how its hooks are invoked (inline or in
 * a worker), its breaker, timings and last errors. `guardedCall` is the one place a hook runs:
 * breaker check → timeout → refusal passes through → any other failure follows the policy.
 */
import type { Ctx } from "../context.ts";
import { GatewayError } from "../errors.ts";
import { PluginRefusalError } from "./api.ts";
import { HookStats, HookTimeoutError, PluginBreaker, type BreakerOptions, withTimeout } from "./guard.ts";
import type { HookName, Manifest } from "./manifest.ts";

export interface Invoker {
  readonly kind: "inline" | "worker" | "process" | "file";
  /** Run a hook; resolves with its result (a worker also reports the request it changed). */
  invoke(hook: string, ctx: Ctx, settings: Readonly<Record<string, unknown>>, args: unknown[]): Promise<unknown> | unknown;
  /** The call timed out: a worker is terminated and restarted; inline code cannot be stopped. */
  timedOut?(): void;
  stop(): Promise<void>;
  /** Restarts so far (worker). */
  restarts?: number;
}

/** A failure a worker reports (crash, memory limit). */
export class PluginCrashError extends Error {
  override name = "PluginCrashError";
  constructor(
    readonly reason: "crash" | "memory" | "timeout" | "error",
    message: string,
  ) {
    super(message);
  }
}

export interface FailureRecord {
  time: string;
  hook: string;
  reason: string;
  error: string;
  message: string;
}

export interface RuntimeEvents {
  /** A hook failed (after the policy decided). */
  onFailure(rt: PluginRuntime, ctx: Ctx | undefined, f: FailureRecord): void;
  onBreaker(rt: PluginRuntime, ctx: Ctx | undefined, state: "open" | "closed"): void;
}

export class PluginRuntime {
  readonly breaker: PluginBreaker;
  readonly stats = new HookStats();
  readonly lastErrors: FailureRecord[] = [];
  failures = 0;

  constructor(
    readonly manifest: Manifest,
    readonly invoker: Invoker,
    readonly source: string,
    private readonly events: RuntimeEvents,
    breaker: BreakerOptions = {},
  ) {
    this.breaker = new PluginBreaker(breaker);
  }

  get name(): string {
    return this.manifest.name;
  }

  has(hook: HookName | string): boolean {
    return (this.manifest.phases as string[]).includes(hook);
  }

  /**
   * Call a hook under the guard. Returns the hook's result, or `undefined` when it was skipped
   * (fail-open, or breaker open). Throws a GatewayError for a refusal and for fail-closed.
   */
  async guardedCall(hook: string, ctx: Ctx, settings: Readonly<Record<string, unknown>>, args: unknown[], timeoutMs: number): Promise<unknown> {
    if (!this.breaker.allow()) return this.policy(hook, true);
    const t0 = performance.now();
    try {
      const out = await withTimeout(this.invoker.invoke(hook, ctx, settings, args) as Promise<unknown>, timeoutMs);
      this.stats.record(hook, performance.now() - t0);
      if (this.breaker.success() === "closed") this.events.onBreaker(this, ctx, "closed");
      return out;
    } catch (err) {
      this.stats.record(hook, performance.now() - t0);
      const refusal = asRefusal(err);
      if (refusal) {
        if (this.breaker.success() === "closed") this.events.onBreaker(this, ctx, "closed");
        throw refusal;
      }
      const reason = err instanceof HookTimeoutError ? "timeout" : err instanceof PluginCrashError ? err.reason : "error";
      if (reason === "timeout") this.invoker.timedOut?.();
      const rec: FailureRecord = {
        time: new Date().toISOString(),
        hook,
        reason,
        error: (err as Error)?.name ?? typeof err,
        message: String((err as Error)?.message ?? err).slice(0, 200),
      };
      this.failures++;
      this.lastErrors.unshift(rec);
      this.lastErrors.length = Math.min(this.lastErrors.length, 10);
      this.events.onFailure(this, ctx, rec);
      if (this.breaker.failure() === "open") this.events.onBreaker(this, ctx, "open");
      return this.policy(hook, false);
    }
  }

  private policy(hook: string, breakerOpen: boolean): undefined {
    // Observers never fail a request; only hooks that could change it follow fail-closed.
    if (this.manifest.failurePolicy === "fail-closed" && hook !== "onEnd" && hook !== "onEvent" && hook !== "onError") {
      throw new GatewayError({
        status: 503,
        code: "plugin_failed",
        message: `Plugin \`${this.name}\` is unavailable${breakerOpen ? " (switched off after repeated failures)" : ""}; it is fail-closed`,
        details: { plugin: this.name },
      });
    }
    return undefined;
  }
}

/** A deliberate refusal (GatewayError or refuse()) becomes the client's error; anything else is a failure. */
export function asRefusal(err: unknown): GatewayError | undefined {
  if (err instanceof GatewayError) return err;
  if (err instanceof PluginRefusalError || (err && typeof err === "object" && (err as { name?: string }).name === "PluginRefusalError")) {
    const r = err as PluginRefusalError;
    const status = Number.isInteger(r.status) && r.status >= 400 && r.status <= 599 ? r.status : 400;
    const code = typeof r.code === "string" && /^[a-z0-9_]{1,64}$/.test(r.code) ? r.code : "plugin_refused";
    return new GatewayError({ status, code, message: String(r.message).slice(0, 500), ...(r.param ? { param: String(r.param) } : {}) });
  }
  return undefined;
}
