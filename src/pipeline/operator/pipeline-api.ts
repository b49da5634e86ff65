/**
 * `tollgate/pipeline`: what a single-file plugin (a `*.ts` file in the plugins directory, hooks
 * get the gateway's full ctx) imports. See docs/plugins.md, "The single-file form".
 */
export { definePipelinePlugin, PHASES, REQUEST_PHASES } from "../plugin.ts";
export type { Answer, Phase, Plugin, PluginHooks, RequestHook } from "../plugin.ts";
export type { Ctx, Outcome } from "../context.ts";
export { GatewayError } from "../errors.ts";
export { contentText } from "../../canonical/chat.ts";
