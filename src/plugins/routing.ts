/**
 * routing: resolves the requested model to a route and orders its targets (the route phase).
 * The provider-call plugin then tries them in that order with retries and fallbacks.
 */
import type { ConfigSnapshot, RouteConfig } from "../config/snapshot.ts";
import { boundIdentifier } from "../canonical/limits.ts";
import type { Ctx } from "../pipeline/context.ts";
import { errors, GatewayError } from "../pipeline/errors.ts";
import { definePlugin } from "../pipeline/plugin.ts";
import { promptTokensOf } from "../pipeline/prompt-tokens.ts";
import { resolveRoute } from "../routing/overrides.ts";
import { resolveCustomerOverride } from "../routing/customer-overrides.ts";
import { targetPrices } from "../pricing/price.ts";
import type { Router } from "../routing/router.ts";
import { type RoutingHints, type Strategy, targetKey } from "../routing/types.ts";

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

const STRATEGIES = new Set(["priority", "weighted", "round_robin", "least_latency", "lowest_cost", "ab"]);

/** Per-request hints: `x-tollgate-strategy` (put in `ctx.state` by the HTTP layer) and the body's `routing` object. */
export function readHints(ctx: Ctx): RoutingHints {
  const hints: RoutingHints = {};
  const body = (ctx.request as { routing?: unknown }).routing;
  // Never forward our own field to a provider.
  delete (ctx.request as { routing?: unknown }).routing;
  const header = ctx.state["routing.strategy"];
  const r = body && typeof body === "object" ? (body as Record<string, unknown>) : {};
  const strategy = typeof header === "string" ? header : r.strategy;
  if (strategy !== undefined) {
    if (typeof strategy !== "string" || !STRATEGIES.has(strategy)) {
      throw new GatewayError({ status: 400, code: "invalid_strategy", message: `Unknown routing strategy \`${boundIdentifier(String(strategy)).slice(0, 64)}\`; one of ${[...STRATEGIES].join(", ")}`, param: "routing.strategy" });
    }
    hints.strategy = strategy as Strategy;
  }
  for (const k of ["prefer", "exclude"] as const) {
    const v = r[k];
    if (v === undefined) continue;
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new GatewayError({ status: 400, code: "invalid_request", message: `\`routing.${k}\` must be a list of provider ids`, param: `routing.${k}` });
    hints[k] = v as string[];
  }
  return hints;
}

/** A plain model name (no route configured) as a one-target route without retries. */
function singleTarget(requested: string, m: ResolvedModel): RouteConfig {
  return { alias: requested, strategy: "priority", targets: [{ provider: m.provider, model: m.model }], maxRetries: 0, deadlineMs: 120_000, backoff: { baseMs: 100, maxMs: 5_000 }, allowRequestOverrides: false };
}

/**
 * Resolves the requested model to a route (customer+service override > customer override >
 * tenant+service override > tenant override > global route > alias / `provider/model` / a listed model) and orders its targets with the route's
 * strategy (`selectTargets`), taking breaker state, prices and the request's hints into account.
 *
 * @example
 * const router = new Router();
 * new Pipeline([routingPlugin(router), providerCallPlugin(router)])
 */
export function routingPlugin(router: Router) {
  return definePlugin({
    name: "routing",
    version: "2.0.0",
    phases: {
      route(ctx) {
        if (ctx.target) return; // an earlier plugin already chose
        const requested = ctx.request.model;
        const requestHints = readHints(ctx);
        const service = ctx.meta.service ?? ctx.principal.service;
        const user = ctx.meta.user ?? ctx.principal.user;
        // Customer overrides pick a chat model: embeddings keep the model they asked for.
        const customer = ctx.operation === "chat" ? resolveCustomerOverride(ctx.config.customerOverrides, ctx.principal.tenant, service, user) : undefined;
        const resolved = customer ? undefined : resolveRoute(requested, ctx.config.routes, ctx.principal.tenant, service);
        let route: RouteConfig;
        let level: string;
        if (customer) {
          route = singleTarget(requested, { provider: customer.override.provider, model: customer.override.model, reason: "qualified" });
          level = customer.level;
        } else if (resolved) {
          route = resolved.route as RouteConfig;
          level = resolved.level;
        } else {
          const m = resolveModel(requested, ctx.config, ctx.providers.list());
          if (!m || !ctx.providers.get(m.provider)) throw errors.modelNotFound(requested);
          route = singleTarget(requested, m);
          level = m.reason;
        }
        const live = route.targets.filter((t) => ctx.providers.get(t.provider));
        if (live.length === 0) {
          throw new GatewayError({ status: 503, code: "no_available_targets", message: `No provider of route \`${requested}\` is configured and enabled` });
        }
        const hints: RoutingHints = route.allowRequestOverrides ? requestHints : {};
        if (user) hints.userId = user;
        if ((hints.strategy ?? route.strategy) === "lowest_cost") {
          hints.promptTokens = promptTokensOf(ctx);
          const max = ctx.request.max_completion_tokens ?? ctx.request.max_tokens;
          if (max) hints.maxTokens = max;
        }
        const prices = (hints.strategy ?? route.strategy) === "lowest_cost" ? targetPrices(ctx.config, live, hints.promptTokens) : ctx.config.prices;
        const selection = router.select({ ...route, targets: live }, prices, hints);
        if (selection.targets.length === 0) {
          throw new GatewayError({ status: 503, code: "no_available_targets", message: `Every target of route \`${requested}\` was excluded` });
        }
        ctx.route = route;
        ctx.targets = selection.targets.map((t) => ({ provider: ctx.providers.get(t.provider)!, model: t.model, requested }));
        ctx.target = ctx.targets[0];
        ctx.responseHeaders["x-tollgate-route-level"] = level;
        if (customer) ctx.responseHeaders["x-tollgate-override"] = customer.override.id;
        ctx.emit({
          type: "route.selected",
          payload: {
            requested,
            level,
            ...(customer ? { override: customer.override.id } : {}),
            strategy: hints.strategy ?? route.strategy,
            provider: ctx.target!.provider.id,
            model: ctx.target!.model,
            targets: selection.targets.map(targetKey),
            reason: selection.reason,
          },
        });
      },
    },
  });
}
