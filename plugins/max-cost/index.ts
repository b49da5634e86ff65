/**
 * max-cost: runs in `route` (the target and its price are known, nothing is reserved yet) and
 * refuses with 400 `request_too_expensive` when the worst case is over the tenant's cap.
 */
import { definePlugin, refuse } from "tollgate/plugin";
import { worstCaseUsd } from "./estimate.ts";

interface Settings {
  max_usd_per_request: number;
  assumed_output_tokens: number;
  refuse_unpriced: boolean;
}

export default definePlugin<Settings>({
  hooks: {
    route(ctx) {
      const price = ctx.config.price;
      if (!price) {
        if (ctx.settings.refuse_unpriced) throw refuse(400, "request_unpriced", "This model has no price and the tenant only allows priced models", "model");
        return;
      }
      const out = ctx.request.max_completion_tokens ?? ctx.request.max_tokens ?? ctx.settings.assumed_output_tokens;
      const usd = worstCaseUsd(ctx.config.promptTokens, out, price);
      if (usd > ctx.settings.max_usd_per_request) {
        ctx.emit({ type: "refused", payload: { estimate_usd: round6(usd), max_usd: ctx.settings.max_usd_per_request, model: ctx.target?.model ?? null } });
        throw refuse(400, "request_too_expensive", `The worst-case cost of this request ($${round6(usd)}) is over this tenant's cap of $${ctx.settings.max_usd_per_request} per request: lower max_tokens or shorten the prompt`, "max_tokens");
      }
    },
  },
});

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
