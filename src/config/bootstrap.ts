/**
 * The optional bootstrap file (`TOLLGATE_CONFIG`, JSON or YAML) and the environment's provider
 * keys, turned into the first configuration snapshot.
 */
import { Type as T, type Static } from "@sinclair/typebox";
import { maskKey } from "./secrets.ts";
import { Value } from "@sinclair/typebox/value";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { PROVIDER_KINDS, type ProviderConfig } from "../providers/types.ts";
import type { Settings } from "./env.ts";
import type { ConfigCommand } from "../projections/config/model.ts";

const Id = T.String({ pattern: "^[a-z0-9][a-z0-9_-]*$", maxLength: 64 });

export const BootstrapFile = T.Object(
  {
    providers: T.Optional(
      T.Array(
        T.Object(
          {
            id: Id,
            kind: T.Union(PROVIDER_KINDS.map((k) => T.Literal(k))),
            base_url: T.Optional(T.String({ pattern: "^https?://" })),
            api_key: T.Optional(T.String()),
            api_key_env: T.Optional(T.String({ description: "Name of an env variable holding the key" })),
            models: T.Optional(T.Array(T.String({ minLength: 1 }))),
            headers: T.Optional(T.Record(T.String(), T.String())),
            timeout_ms: T.Optional(T.Integer({ minimum: 1 })),
            chunk_delay_ms: T.Optional(T.Integer({ minimum: 0 })),
            api_version: T.Optional(T.String({ minLength: 1 })),
            deployments: T.Optional(T.Record(T.String(), T.String({ minLength: 1 }))),
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
            cache_write: T.Optional(T.Number({ minimum: 0 })),
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

/** Providers that exist without any config: `echo`, and `openai` when OPENAI_API_KEY is set. */
export function builtinProviders(settings: Settings): ProviderConfig[] {
  const out: ProviderConfig[] = [{ id: "echo", kind: "echo", models: ["echo"] }];
  if (settings.openaiApiKey) {
    out.push({
      id: "openai",
      kind: "openai",
      baseUrl: settings.openaiBaseUrl,
      apiKey: settings.openaiApiKey,
      models: ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o4-mini"],
    });
  }
  return out;
}

/**
 * The bootstrap file as config commands (run once, on a first start with an empty config
 * stream). A literal `api_key` is sealed with the master key; `api_key_env` is kept as a name.
 */
export function bootstrapCommands(file: BootstrapFile, seal: ((key: string, baseUrl?: string) => { enc: string; hint: string }) | undefined): ConfigCommand[] {
  const cmds: ConfigCommand[] = [];
  for (const p of file.providers ?? []) {
    const fields: Record<string, unknown> = { kind: p.kind, models: p.models ?? (p.kind === "echo" ? ["echo"] : []) };
    if (p.base_url) fields.base_url = p.base_url.replace(/\/+$/, "");
    if (p.api_key_env) fields.api_key_env = p.api_key_env;
    if (p.api_key) {
      if (!seal) throw new BootstrapError(`TOLLGATE_CONFIG: provider ${p.id}: a literal api_key needs TOLLGATE_MASTER_KEY (or use api_key_env)`);
      const { enc, hint } = seal(p.api_key, fields.base_url as string | undefined); // bound to the base URL (AES-GCM additional data)
      fields.api_key_enc = enc;
      fields.api_key_hint = hint;
    }
    if (p.headers) {
      fields.headers = p.headers;
      // Headers may carry credentials: sealed like a key when a master key is set (masked values stay readable).
      if (seal) {
        fields.headers_enc = seal(JSON.stringify(p.headers), fields.base_url as string | undefined).enc;
        fields.headers = Object.fromEntries(Object.entries(p.headers).map(([k, v]) => [k, maskKey(v)]));
      }
    }
    if (p.timeout_ms) fields.timeout_ms = p.timeout_ms;
    if (p.chunk_delay_ms !== undefined) fields.chunk_delay_ms = p.chunk_delay_ms;
    if (p.api_version) fields.api_version = p.api_version;
    if (p.deployments) fields.deployments = p.deployments;
    cmds.push({ type: "create", kind: "provider", id: p.id, fields });
  }
  const declared = new Set((file.providers ?? []).map((p) => p.id));
  for (const m of file.models ?? []) {
    if (!declared.has(m.provider) && m.provider !== "echo") throw new BootstrapError(`TOLLGATE_CONFIG: model alias ${m.alias}: unknown provider ${m.provider}`);
    cmds.push({ type: "create", kind: "model_alias", id: m.alias, fields: { provider: m.provider, model: m.model } });
  }
  for (const p of file.prices ?? []) {
    cmds.push({ type: "create", kind: "price", id: `${p.provider}/${p.model}`, fields: { input: p.input, output: p.output, ...(p.cached_input !== undefined ? { cached_input: p.cached_input } : {}), ...(p.cache_write !== undefined ? { cache_write: p.cache_write } : {}) } });
  }
  // Aliases and prices may name the built-in echo provider: declare it first so references hold.
  const needsEcho = (file.models ?? []).some((m) => m.provider === "echo") || (file.prices ?? []).some((p) => p.provider === "echo");
  if (needsEcho && !declared.has("echo")) cmds.unshift({ type: "create", kind: "provider", id: "echo", fields: { kind: "echo", models: ["echo"] } });
  return cmds;
}

/** Check every provider's env-held key is present (a clear error at start, not at the first call). */
export function checkEnvKeys(file: BootstrapFile, env: Record<string, string | undefined> = process.env): void {
  for (const p of file.providers ?? []) {
    if ((p.kind === "custom" || p.kind === "azure") && !p.base_url) throw new BootstrapError(`TOLLGATE_CONFIG: provider ${p.id}: base_url is required for kind ${p.kind}`);
    if (p.api_key_env && !env[p.api_key_env]) throw new BootstrapError(`TOLLGATE_CONFIG: provider ${p.id}: env variable ${p.api_key_env} is not set`);
  }
}
