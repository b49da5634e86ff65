/**
 * Invokers for hooks that run in the gateway's own thread: a folder plugin (restricted view)
 * and a single-file plugin (today's form: raw ctx, trusted like a built-in, but guarded).
 */
import type { Ctx } from "../context.ts";
import type { PluginHooks } from "../plugin.ts";
import type { StateStore } from "../../stores/state-store.ts";
import type { OperatorPluginDefinition, PluginContext } from "./api.ts";
import { scopedKv } from "./kv.ts";
import type { Invoker } from "./runtime.ts";
import { inlineView } from "./view.ts";

export class InlineInvoker implements Invoker {
  readonly kind = "inline" as const;
  private readonly views = new WeakMap<Ctx, PluginContext>();

  constructor(
    private readonly name: string,
    private readonly def: OperatorPluginDefinition,
    private readonly store: StateStore,
  ) {}

  invoke(hook: string, ctx: Ctx, settings: Readonly<Record<string, unknown>>, args: unknown[]): unknown {
    let view = this.views.get(ctx);
    if (!view) {
      view = inlineView(ctx, { plugin: this.name, settings, kv: scopedKv(this.store, this.name, ctx.principal.tenant) });
      this.views.set(ctx, view);
    }
    const fn = (this.def.hooks as Record<string, ((...a: unknown[]) => unknown) | undefined>)[hook];
    return fn ? fn(view, ...args) : undefined;
  }

  async stop(): Promise<void> {
    await this.def.stop?.();
  }
}

/** Today's single-file plugins: hooks get the raw ctx (as before), now under the same guard. */
export class FileInvoker implements Invoker {
  readonly kind = "file" as const;
  constructor(private readonly hooks: PluginHooks) {}

  invoke(hook: string, ctx: Ctx, _settings: unknown, args: unknown[]): unknown {
    const fn = (this.hooks as Record<string, ((...a: unknown[]) => unknown) | undefined>)[hook];
    return fn ? fn(ctx, ...args) : undefined;
  }

  async stop(): Promise<void> {}
}
