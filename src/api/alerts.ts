/**
 * Alerts admin API (docs/alerts.md):
 *   /api/v1/alerts/rules, /api/v1/alerts/destinations   CRUD (config entities, with history)
 *   POST /api/v1/alerts/destinations/{id}/test          send a test alert, answer what the receiver said
 *   GET  /api/v1/alerts                                 open alerts and the latest transitions (from the `alerts` stream)
 * A destination's signing secret is write-only: `secret` is sealed with TOLLGATE_MASTER_KEY into
 * `secret_enc` before it reaches the decider, and views show only a masked hint.
 */
import { Elysia } from "elysia";
import { Type as T } from "@sinclair/typebox";
import { encryptSecret, maskKey } from "../config/secrets.ts";
import { GatewayError } from "../pipeline/errors.ts";
import { type AdminDeps, asAdmin, entityRoutes } from "./admin.ts";
import { adminDetail, errorResponses, IdParams, jsonContent, okResponse, OptionalBody, objectOrNone } from "./schemas.ts";
import type { EventLog } from "../events/event-log.ts";
import { makeEvent } from "../events/envelope.ts";
import { AlertBook, type AlertPayload } from "../alerts/book.ts";
import { deliverOnce, deliveryBody } from "../alerts/delivery.ts";
import { destinationOf } from "../alerts/runtime.ts";

export interface AlertsApiDeps extends AdminDeps {
  log: EventLog;
}

/** `secret` (write-only) → `secret_enc` + `secret_hint`; `secret: null` clears it. */
function sealSecret(deps: AdminDeps, body: Record<string, unknown>): Record<string, unknown> {
  if (!("secret" in body)) return body;
  const { secret, ...rest } = body;
  if (secret === null) return { ...rest, secret_enc: null, secret_hint: null };
  if (typeof secret !== "string" || secret.length < 16) throw new GatewayError({ status: 400, code: "invalid_config", message: "`secret` must be a string of at least 16 characters", param: "secret" });
  if (!deps.masterKey) throw new GatewayError({ status: 400, code: "master_key_missing", message: "Set TOLLGATE_MASTER_KEY to store a destination secret (or use secret_env)", param: "secret" });
  return { ...rest, secret_enc: encryptSecret(secret, deps.masterKey), secret_hint: maskKey(secret) };
}

const Transition = T.Object({ type: T.String(), time: T.String(), id: T.String(), alert: T.Object({}, { additionalProperties: true }) }, { additionalProperties: true });
const AlertsView = T.Object({
  object: T.Literal("alerts"),
  open: T.Array(T.Object({}, { additionalProperties: true })),
  recent: T.Array(Transition),
});

/**
 * @example
 * app.use(alertsRoutes({ ...deps.admin, log }))
 */
export function alertsRoutes(deps: AlertsApiDeps) {
  const tag = "Admin: alerts";
  return new Elysia({ name: "admin-alerts", normalize: false })
    .use(entityRoutes(deps, "alert_rule", "/api/v1/alerts/rules", tag))
    .use(entityRoutes(deps, "alert_destination", "/api/v1/alerts/destinations", tag, (f) => sealSecret(deps, f)))
    .post("/api/v1/alerts/destinations/:id/test", ({ request, params, body }) => asAdmin(deps, request, async () => {
      objectOrNone(body);
      const dest = destinationOf(deps.config.state, params.id, deps.masterKey);
      if (!dest) throw new GatewayError({ status: 404, code: "not_found", message: `alert_destination \`${params.id}\` does not exist` });
      const payload: AlertPayload = { rule: "test", ruleKind: "error_rate", scope: "test", value: 0, threshold: 0, unit: "state", windowS: 0, episode: 0, watermark: [] };
      const e = makeEvent({ type: "alert.fired", tenant: "default", actor: "alerts", payload: { ...payload, test: true } as unknown as Record<string, unknown> });
      const t0 = performance.now();
      const r = await deliverOnce(dest, `${e.id}:${dest.id}`, "alert.test", deliveryBody(dest, e), 1);
      return Response.json({ ok: r.ok, destination: dest.id, signed: Boolean(dest.secret), latency_ms: Math.round(performance.now() - t0), ...(r.status ? { status: r.status } : {}), ...(r.error ? { error: r.error } : {}) });
    }), {
      params: IdParams,
      body: OptionalBody(T.Object({})),
      detail: adminDetail(tag, "Send a test alert to a destination (signed like a real one) and report the receiver's answer", {
        ...okResponse(T.Object({ ok: T.Boolean(), destination: T.String(), signed: T.Boolean(), latency_ms: T.Integer(), status: T.Optional(T.Integer()), error: T.Optional(T.String()) }), "What the receiver answered (`ok: false` with `status` or `error` when it refused or was unreachable)"),
        ...errorResponses({ 404: "No such destination (`not_found`)" }),
      }),
    })
    .get("/api/v1/alerts", ({ request }) => asAdmin(deps, request, async () => {
      const book = new AlertBook();
      const recent: Array<Record<string, unknown>> = [];
      const end = (await deps.log.endOffsets("alerts"))[0] ?? 0;
      const from = 0;
      for (let offset = from; offset < end; ) {
        const batch = await deps.log.read("alerts", 0, offset, 1000);
        if (batch.length === 0) break;
        for (const r of batch) {
          if (book.apply(r.event)) {
            const { watermark: _w, ...alert } = r.event.payload as Record<string, unknown>;
            recent.push({ id: r.event.id, type: r.event.type, time: r.event.time, alert });
            if (recent.length > 100) recent.shift();
          }
        }
        offset = batch.at(-1)!.offset + 1;
      }
      const open = [...book.open.values()].map((o) => {
        const { watermark: _w, ...alert } = o.payload;
        return { ...alert, fired_at: o.firedAt, fired_id: o.firedId };
      });
      return Response.json({ object: "alerts", open, recent: recent.reverse() });
    }), { detail: adminDetail(tag, "Open alerts and the latest 100 transitions (newest first), folded from the `alerts` stream", { 200: { description: "Open alerts and recent transitions", content: jsonContent(AlertsView) } }) });
}
