/**
 * Pure: the exact-cache key of a request. SHA-256 over a canonical serialization (RFC 8785 JSON:
 * sorted keys, shortest round-trip numbers; see canonical-json.ts) of
 *   - the scope (tenant, or key when the tenant chose `scope: "key"`),
 *   - the operation (`chat` / `embeddings`),
 *   - the requested model and the definition of the route or alias it resolves to (re-pointing
 *     an alias changes the key),
 *   - the request after the input plugins ran (guardrails' redactions included): EVERY field
 *     except the short, reviewed list of output-neutral ones below. A field the gateway does not
 *     know (a provider extra such as `top_k`, `logit_bias`, `reasoning_effort`) is keyed, so a
 *     new parameter can never be served a wrong answer by omission.
 *
 * `stream` is not keyed: a stream can be served from a JSON entry and the other way round.
 */
import { createHash } from "node:crypto";
import type { ChatCompletionRequest } from "../canonical/chat.ts";
import type { EmbeddingsRequest } from "../canonical/embeddings.ts";
import type { ConfigSnapshot } from "../config/snapshot.ts";
import { resolveRoute } from "../routing/overrides.ts";
import { canonicalJson } from "./canonical-json.ts";

/**
 * Request fields that cannot change the answer, with the reason. Reviewed: adding a name here
 * means two requests differing only in it share an entry. test/cache/key-schema.test.ts walks the
 * canonical request schema and fails for any field that neither changes the key nor is listed.
 */
export const OUTPUT_NEUTRAL_FIELDS: Readonly<Record<string, string>> = {
  model: "keyed separately, with the definition of the route it resolves to",
  stream: "a stream is replayed from a JSON entry and the other way round",
  stream_options: "only whether a usage chunk is sent; replays add it when asked",
  user: "an end-user id for the provider's abuse monitoring; never changes the text",
  metadata: "the gateway's own labels (service, task type); not sent to the model",
};

export interface KeyInput {
  /** `tenant:<id>` or `key:<id>` (see {@link scopeOf}). */
  scope: string;
  operation: "chat" | "embeddings";
  request: ChatCompletionRequest;
  /** Embeddings: the original request (its `input` when it is token ids, plus `dimensions`, `encoding_format`). */
  embeddings?: EmbeddingsRequest;
  /** What the requested model resolves to (see {@link routeDefinition}). */
  route: unknown;
}

/** The scope an entry belongs to: the tenant, or one key of it. */
export function scopeOf(tenant: string, keyId: string | undefined, scope: "tenant" | "key" | "user", user?: string): string {
  if (scope === "user" && user) return `user:${tenant}:${user}`;
  return scope === "key" && keyId ? `key:${keyId}` : `tenant:${tenant}`;
}

/**
 * Pure: the definition of what `requested` resolves to for this tenant and service: a route
 * (strategy and targets: who may answer), else an alias's provider and model, else the name
 * itself (`provider/model` or a listed model). Retries and timeouts are left out: they do not
 * change the answer.
 */
export function routeDefinition(requested: string, config: Pick<ConfigSnapshot, "routes" | "models">, tenant: string, service?: string): unknown {
  const resolved = resolveRoute(requested, config.routes, tenant, service);
  if (resolved) {
    const r = resolved.route;
    return { route: { strategy: r.strategy, targets: r.targets.map((t) => ({ provider: t.provider, model: t.model, weight: t.weight ?? null, priority: t.priority ?? null })), ab: r.ab ?? null } };
  }
  const alias = config.models.find((m) => m.alias === requested);
  if (alias) return { alias: { provider: alias.provider, model: alias.model } };
  return { model: requested };
}

/** Pure: the keyed part of a request: every field but the output-neutral ones; top-level nulls dropped (null = the default). */
export function keyedRequest(request: ChatCompletionRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(request)) {
    if (Object.hasOwn(OUTPUT_NEUTRAL_FIELDS, k) || v === null || v === undefined) continue;
    out[k] = v;
  }
  return out;
}

/** Pure: the canonical text that is hashed (exported for tests and the docs). */
export function canonicalKeyText(input: KeyInput): string {
  const doc: Record<string, unknown> = { v: 1, scope: input.scope, op: input.operation, model: input.request.model, route: input.route ?? null, request: keyedRequest(input.request) };
  if (input.embeddings) {
    const { input: raw, user: _user, model: _model, ...rest } = input.embeddings;
    // String inputs are keyed through `request.messages` (after redaction); token-id inputs as they are.
    const textual = typeof raw === "string" || (Array.isArray(raw) && raw.every((x) => typeof x === "string"));
    doc.embeddings = { ...rest, ...(textual ? {} : { input: raw }) };
  }
  const text = canonicalJson(doc);
  if (text === undefined) throw new TypeError("cache key: the request cannot be serialized");
  return text;
}

/** Pure: the SHA-256 hex of the canonical text. */
export function cacheKey(input: KeyInput): string {
  return createHash("sha256").update(canonicalKeyText(input)).digest("hex");
}

/** Pure: whether a chat request is deterministic enough for `mode: deterministic` (temperature 0, or a seed). */
export function isDeterministic(request: ChatCompletionRequest, operation: "chat" | "embeddings"): boolean {
  if (operation === "embeddings") return true;
  return request.temperature === 0 || (request.seed !== undefined && request.seed !== null);
}
