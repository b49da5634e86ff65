/**
 * Example operator plugin: logs requests slower than `SLOW_REQUEST_MS` (default 2000 ms).
 * Copy it to `plugins/` (next to this folder) to enable it.
 */
import { definePipelinePlugin } from "tollgate/pipeline";

const thresholdMs = Number(process.env.SLOW_REQUEST_MS ?? 2000);

export default definePipelinePlugin({
  name: "slow-request-log",
  version: "1.0.0",
  phases: {
    onEnd(ctx, outcome) {
      if (outcome.latencyMs >= thresholdMs) {
        console.warn(`[slow-request-log] ${ctx.requestId} ${ctx.request.model} took ${outcome.latencyMs} ms (${outcome.status})`);
      }
    },
  },
});
