/**
 * The optional bootstrap file (`TOLLGATE_CONFIG`, JSON or YAML) and the environment's provider
 * keys, turned into the first configuration snapshot.
 */
import { Type as T, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import type { ProviderConfig } from "../providers/types.ts";
import type { Settings } from "./env.ts";
import type { ConfigSnapshot } from "./snapshot.ts";

const Id = T.String({ pattern: "^[a-z0-9][a-z0-9_-]*$", maxLength: 64 });

export const BootstrapFile = T.Object(
  {
    providers: T.Optional(
      T.Array(
        T.Object(
          {
            id: Id,
            kind: T.Union([T.Literal("openai"), T.Literal("echo")]),
            base_url: T.Optional(T.String({ pattern: "^https?://" })),
            api_key: T.Optional(T.String()),
            api_key_env: T.Optional(T.String({ description: "Name of an env variable holding the key" })),
            models: T.Optional(T.Array(T.String({ minLength: 1 }))),
            headers: T.Optional(T.Record(T.String(), T.String())),
            timeout_ms: T.Optional(T.Integer({ minimum: 1 })),
            chunk_delay_ms: T.Optional(T.Integer({ minimum: 0 })),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    models: T.Optional(
      T.Array(
        T.Object(
          { alias: T.String({ minLength: 1 }), provider: Id, model: T.String({ minLength: 1 }) },
          { additionalProperties: false },
        ),
      ),
    ),
    prices: T.Optional(
      T.Array(
        T.Object(
          {
            provider: Id,
            model: T.String({ minLength: 1 }),
            input: T.Number({ minimum: 0, description: "USD per 1M input tokens" }),
            output: T.Number({ minimum: 0, description: "USD per 1M output tokens" }),
            cached_input: T.Optional(T.Number({ minimum: 0 })),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false },
);
export type BootstrapFile = Static<typeof BootstrapFile>;

export class BootstrapError extends Error {
  override name = "BootstrapError";
}

/** Read and validate a bootstrap file; YAML when it ends in .yaml/.yml, else JSON. */
export function readBootstrapFile(path: string): BootstrapFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new BootstrapError(`TOLLGATE_CONFIG: cannot read ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new BootstrapError(`TOLLGATE_CONFIG: ${path} is not valid ${/\.ya?ml$/i.test(path) ? "YAML" : "JSON"}: ${(err as Error).message}`);
  }
  const problems = [...Value.Errors(BootstrapFile, data ?? {})].slice(0, 10).map((e) => `${e.path || "/"}: ${e.message}`);
  if (problems.length) throw new BootstrapError(`TOLLGATE_CONFIG: ${path} is invalid:\n  - ${problems.join("\n  - ")}`);
  return (data ?? {}) as BootstrapFile;
}

/**
 * The first snapshot: the built-in `echo` provider, `openai` when OPENAI_API_KEY is set, then
 * the file's providers (a file entry with the same id replaces a built-in one), aliases, prices.
 */
export function buildSnapshot(
  settings: Settings,
  file: BootstrapFile = {},
  env: Record<string, string | undefined> = process.env,
): ConfigSnapshot {
  const providers = new Map<string, ProviderConfig>();
  providers.set("echo", { id: "echo", kind: "echo", models: ["echo"] });
  if (settings.openaiApiKey) {
    providers.set("openai", {
      id: "openai",
      kind: "openai",
      baseUrl: settings.openaiBaseUrl,
      apiKey: settings.openaiApiKey,
      models: ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o4-mini"],
    });
  }
  for (const p of file.providers ?? []) {
    let apiKey = p.api_key;
    if (p.api_key_env) {
      apiKey = env[p.api_key_env];
      if (!apiKey) throw new BootstrapError(`TOLLGATE_CONFIG: provider ${p.id}: env variable ${p.api_key_env} is not set`);
    }
    if (p.kind === "openai" && !p.base_url) throw new BootstrapError(`TOLLGATE_CONFIG: provider ${p.id}: base_url is required for kind openai`);
    const cfg: ProviderConfig = { id: p.id, kind: p.kind, models: p.models ?? (p.kind === "echo" ? ["echo"] : []) };
    if (p.base_url) cfg.baseUrl = p.base_url.replace(/\/+$/, "");
    if (apiKey) cfg.apiKey = apiKey;
    if (p.headers) cfg.headers = p.headers;
    if (p.timeout_ms) cfg.timeoutMs = p.timeout_ms;
    if (p.chunk_delay_ms !== undefined) cfg.chunkDelayMs = p.chunk_delay_ms;
    providers.set(p.id, cfg);
  }
  const models = (file.models ?? []).map((m) => {
    if (!providers.has(m.provider)) throw new BootstrapError(`TOLLGATE_CONFIG: model alias ${m.alias}: unknown provider ${m.provider}`);
    return { alias: m.alias, provider: m.provider, model: m.model };
  });
  const prices: ConfigSnapshot["prices"] = {};
  for (const p of file.prices ?? []) {
    prices[`${p.provider}/${p.model}`] = { input: p.input, output: p.output, ...(p.cached_input !== undefined ? { cachedInput: p.cached_input } : {}) };
  }
  return { version: 0, providers: [...providers.values()], models, prices };
}
