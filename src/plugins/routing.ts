/**
 * routing: resolves the requested model (an alias, `provider/model`, or a model a provider
 * lists) to a target. Strategies and fallbacks arrive with the routing work; this is the
 * deterministic core.
 */
import type { ConfigSnapshot } from "../config/snapshot.ts";
import { errors } from "../pipeline/errors.ts";
import { definePlugin } from "../pipeline/plugin.ts";

export interface ResolvedModel {
  provider: string;
  model: string;
  reason: "alias" | "qualified" | "listed";
}

/**
 * Pure: which provider and model serve `requested`, or undefined.
 * Order: a configured alias; `provider/model` for a known provider; the first provider
 * (in config order) whose model list contains it.
 */
export function resolveModel(
  requested: string,
  snapshot: Pick<ConfigSnapshot, "models">,
  providers: ReadonlyArray<{ id: string; models: readonly string[] }>,
): ResolvedModel | undefined {
  const alias = snapshot.models.find((m) => m.alias === requested);
  if (alias && providers.some((p) => p.id === alias.provider)) {
    return { provider: alias.provider, model: alias.model, reason: "alias" };
  }
  const slash = requested.indexOf("/");
  if (slash > 0) {
    const id = requested.slice(0, slash);
    if (providers.some((p) => p.id === id)) return { provider: id, model: requested.slice(slash + 1), reason: "qualified" };
  }
  const listing = providers.find((p) => p.models.includes(requested));
  if (listing) return { provider: listing.id, model: requested, reason: "listed" };
  return undefined;
}

/**
 * @example
 * new Pipeline([routingPlugin(), providerCallPlugin()])
 */
export function routingPlugin() {
  return definePlugin({
    name: "routing",
    version: "1.0.0",
    phases: {
      route(ctx) {
        if (ctx.target) return; // an earlier plugin already chose
        const resolved = resolveModel(ctx.request.model, ctx.config, ctx.providers.list());
        const provider = resolved && ctx.providers.get(resolved.provider);
        if (!resolved || !provider) throw errors.modelNotFound(ctx.request.model);
        ctx.target = { provider, model: resolved.model, requested: ctx.request.model };
        ctx.emit({
          type: "route.selected",
          payload: { requested: ctx.request.model, provider: provider.id, model: resolved.model, reason: resolved.reason },
        });
      },
    },
  });
}
