/**
 * webhook-notifier: budget-threshold, budget-exceeded and guardrail events of a tenant are
 * POSTed to the tenant's URL, signed (sign.ts), through a durable outbox (outbox.ts). The hook
 * only writes to the outbox; delivery runs beside the request path and never delays a response.
 */
import { definePlugin } from "tollgate/plugin";
import { Outbox, type OutboxSettings } from "./outbox.ts";

interface Settings extends OutboxSettings {
  url: string;
  secret_env: string;
}

/** A factory: each gateway (and each restart in one process) gets its own outbox timers. */
export default () => {
  const outbox = new Outbox();
  return definePlugin<Settings>({
  hooks: {
    async onEvent(ctx, event) {
      const s = ctx.settings;
      await outbox.recover(ctx.kv, ctx.tenant, s);
      const id = crypto.randomUUID();
      const body = JSON.stringify({ id, type: event.type, tenant: event.tenant, request_id: event.requestId ?? null, time: event.time, data: event.payload });
      await outbox.add(ctx.kv, { id, tenant: ctx.tenant, url: s.url, secretEnv: s.secret_env, body, type: event.type, attempts: 0, createdAt: Date.now() }, s);
    },
  },
  stop: () => outbox.stop(),
  });
};
