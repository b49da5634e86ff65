/**
 * The configuration as an API view (`GET /api/v1/admin/config`, now and `?at=`), and the
 * parsing of `at` and of the history's pagination. Pure: derived from the one config model
 * (`ENTITY_KINDS`), so an entity kind added to the model shows up here without an edit.
 */
import { GatewayError } from "../pipeline/errors.ts";
import { maskHeaders } from "./provider-secrets.ts";
import { ENTITY_KINDS, type ConfigState, type Entity, type EntityKind } from "../projections/config/model.ts";

/**
 * The list name of a kind in the view. Kinds that predate this table keep their historical
 * names; any other kind is listed as `<kind>s` (e.g. `cache_policy` → `cache_policies`).
 */
const LIST_NAMES: Partial<Record<EntityKind, string>> = {
  model_alias: "models",
  guardrails: "guardrails",
  cache_policy: "cache_policies",
};

export function listName(kind: EntityKind): string {
  return LIST_NAMES[kind] ?? (kind.endsWith("y") ? `${kind.slice(0, -1)}ies` : kind.endsWith("s") ? kind : `${kind}s`);
}

/** Field names never shown: key hashes and any sealed (`*_enc`) secret. */
const HIDDEN = (name: string) => name === "hash" || name === "previous_hash" || name.endsWith("_enc");

/** The public view of an entity: secrets left out (a provider key shown by its masked hint). */
export function entityView(e: Entity): Record<string, unknown> {
  // Write-only secrets (a provider's API key, an alert destination's secret) show as their masked hint.
  const { api_key_hint, secret_hint, ...fields } = e.fields as Record<string, unknown>;
  const shown = Object.fromEntries(Object.entries(fields).filter(([k]) => !HIDDEN(k)));
  // Provider headers may carry credentials (issue 22): masked like keys (already masked when sealed).
  if (shown.headers && typeof shown.headers === "object" && !fields.headers_enc) shown.headers = maskHeaders(shown.headers as Record<string, string>);
  return { id: e.id, ...shown, ...(api_key_hint ? { api_key: api_key_hint } : {}), ...(secret_hint ? { secret: secret_hint } : {}), version: e.version, updated_at: e.updatedAt, updated_by: e.updatedBy };
}

/** The configuration state as an API view: every entity kind of the model, by its list name. */
export function stateView(state: ConfigState, at?: { time?: string; version?: number }): Record<string, unknown> {
  const out: Record<string, unknown> = { config_version: state.version };
  if (at?.time) out.at = at.time;
  if (at?.version !== undefined) out.at_version = at.version;
  for (const kind of ENTITY_KINDS) {
    out[listName(kind)] = Object.values(state.entities[kind] ?? {}).map((e) => entityView(e as Entity));
  }
  return out;
}

/** A point in the config's past: a config version (log position + 1) or an instant. */
export type ConfigPoint = { version: number } | { time: Date };

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/**
 * `?at=`: a config version (`12`, as in `config_version`) or an RFC 3339 time
 * (`2026-11-22T12:00:00Z`). Anything else is a 400 `invalid_request` with `param: "at"`.
 */
export function parseAt(raw: string, currentVersion: number): ConfigPoint {
  const bad = (why: string) => new GatewayError({ status: 400, code: "invalid_request", message: `\`at\` ${why}: give a config version (an integer such as 12, see \`config_version\`) or an RFC 3339 time such as 2026-11-22T12:00:00Z`, param: "at" });
  if (/^\d{1,15}$/.test(raw)) {
    const version = Number(raw);
    if (version > currentVersion) throw bad(`is version ${version}, past the current config version ${currentVersion}`);
    return { version };
  }
  if (!RFC3339.test(raw)) throw bad("is neither a version nor an RFC 3339 time");
  const time = new Date(raw);
  if (Number.isNaN(time.getTime())) throw bad("is not a valid time");
  return { time };
}

export const HISTORY_DEFAULT_LIMIT = 100;
export const HISTORY_MAX_LIMIT = 1000;

/** History pagination: the newest `limit` entries before position `before`, oldest first. */
export interface HistoryPage<E> {
  object: "list";
  data: E[];
  has_more: boolean;
  /** Pass as `before` for the previous (older) page; null on the oldest page. */
  next_before: number | null;
}

function intParam(raw: string | undefined, param: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new GatewayError({ status: 400, code: "invalid_request", message: `\`${param}\` must be an integer from ${min} to ${max}`, param });
  return n;
}

export function parsePage(query: { limit?: string; before?: string }): { limit: number; before?: number } {
  const limit = intParam(query.limit, "limit", 1, HISTORY_MAX_LIMIT) ?? HISTORY_DEFAULT_LIMIT;
  const before = intParam(query.before, "before", 0, Number.MAX_SAFE_INTEGER);
  return before === undefined ? { limit } : { limit, before };
}

/** One page of `entries` (oldest first, each with its log `position`). */
export function page<E extends { position: number }>(entries: E[], p: { limit: number; before?: number }): HistoryPage<E> {
  const upTo = p.before === undefined ? entries : entries.filter((e) => e.position < p.before!);
  const data = upTo.slice(-p.limit);
  const hasMore = upTo.length > data.length;
  return { object: "list", data, has_more: hasMore, next_before: hasMore ? data[0]!.position : null };
}
