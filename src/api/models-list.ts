/**
 * GET /v1/models and GET /v1/models/{id}: every name a client may send as `model` — routes
 * (`owned_by: "tollgate:route"`), model aliases (`owned_by: "tollgate:alias"`), each provider's
 * models by bare name and as `provider/model` (`owned_by`: the provider id). Routes and aliases
 * also say where they go (`tollgate.targets`). Pure listing over the config snapshot.
 */
import type { ConfigSnapshot } from "../config/snapshot.ts";

export interface ModelEntry {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  tollgate: { kind: "route" | "alias" | "provider_model"; strategy?: string; targets: Array<{ provider: string; model: string }> };
}

export function listModels(cfg: Pick<ConfigSnapshot, "models" | "routes">, providers: ReadonlyArray<{ id: string; models: readonly string[] }>, created = Math.floor(Date.now() / 1000)): ModelEntry[] {
  const seen = new Set<string>();
  const data: ModelEntry[] = [];
  const add = (id: string, owned_by: string, tollgate: ModelEntry["tollgate"]) => {
    if (seen.has(id)) return;
    seen.add(id);
    data.push({ id, object: "model", created, owned_by, tollgate });
  };
  // Resolution order of a request's `model` (routing): a route, then an alias, then provider models.
  for (const r of Object.values(cfg.routes.global)) add(r.alias, "tollgate:route", { kind: "route", strategy: r.strategy, targets: r.targets.map((t) => ({ provider: t.provider, model: t.model })) });
  for (const m of cfg.models) add(m.alias, "tollgate:alias", { kind: "alias", targets: [{ provider: m.provider, model: m.model }] });
  for (const p of providers) for (const id of p.models) add(id, p.id, { kind: "provider_model", targets: [{ provider: p.id, model: id }] });
  for (const p of providers) for (const id of p.models) add(`${p.id}/${id}`, p.id, { kind: "provider_model", targets: [{ provider: p.id, model: id }] });
  return data;
}
