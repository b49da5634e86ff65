/**
 * The manifest of a folder plugin (`manifest.ts`, default export): what it is, which hooks it
 * uses, its settings schema and defaults, ordering hints, failure policy, timeout and isolation.
 */
import { Type as T, type Static, type TSchema, Kind } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";

export const HOOK_NAMES = ["authenticate", "admit", "inspect", "lookup", "route", "onChunk", "onEnd", "onEvent"] as const;
export type HookName = (typeof HOOK_NAMES)[number];

export const PLUGIN_NAME = "^[a-z0-9][a-z0-9_-]{0,63}$";

export const PluginManifest = T.Object(
  {
    name: T.String({ pattern: PLUGIN_NAME, description: "Lower-case slug; namespaces events (`plugin.<name>.*`) and the store" }),
    version: T.String({ minLength: 1, maxLength: 64 }),
    description: T.Optional(T.String({ maxLength: 500 })),
    /** The hooks the entry implements (others are not called). */
    phases: T.Array(T.Union(HOOK_NAMES.map((h) => T.Literal(h))), { minItems: 1, uniqueItems: true }),
    /** Event types (or `prefix.*`) delivered to `onEvent`. */
    events: T.Optional(T.Array(T.String({ pattern: "^(?!plugin\\.)[a-z0-9_]+(\\.[a-z0-9_]+)*(\\.\\*)?$", description: "Not `plugin.*`: plugins' own events are not delivered" }))),
    /** Enabled for every tenant unless configured otherwise. Default true. */
    defaultEnabled: T.Optional(T.Boolean()),
    /** Run before / after these plugins (names; unknown names are ignored). */
    before: T.Optional(T.Array(T.String())),
    after: T.Optional(T.Array(T.String())),
    /** What a failure (a throw that is not a refusal, a timeout) does: skip the plugin, or answer 503. */
    failurePolicy: T.Optional(T.Union([T.Literal("fail-open"), T.Literal("fail-closed")])),
    /** Per hook call. Default 250 ms. */
    timeoutMs: T.Optional(T.Integer({ minimum: 1, maximum: 60_000 })),
    /** `process` (a separate process, clean environment): the choice for third-party code. */
    isolation: T.Optional(T.Union([T.Literal("inline"), T.Literal("worker"), T.Literal("process")])),
    /** Worker isolation: heap limit in MB (enforced by the host, see docs/plugins.md). Default 64. */
    memoryLimitMb: T.Optional(T.Integer({ minimum: 8, maximum: 4096 })),
    /** Entry module, relative to the folder. Default `index.ts`. */
    entry: T.Optional(T.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export type PluginManifestInput = Static<typeof PluginManifest> & { settings?: TSchema };

export interface Manifest {
  name: string;
  version: string;
  description: string;
  phases: HookName[];
  events: string[];
  defaultEnabled: boolean;
  before: string[];
  after: string[];
  failurePolicy: "fail-open" | "fail-closed";
  timeoutMs: number;
  isolation: "inline" | "worker" | "process";
  memoryLimitMb: number;
  entry: string;
  settings?: TSchema;
  /** Defaults filled in from the settings schema (validated at load). */
  defaultSettings: Record<string, unknown>;
}

export class ManifestError extends Error {
  override name = "ManifestError";
}

/** Validate a manifest value; throws ManifestError with the first problems. */
export function parseManifest(value: unknown): Manifest {
  if (!value || typeof value !== "object") throw new ManifestError("the manifest must be an object (default export of manifest.ts)");
  const { settings, ...rest } = value as Record<string, unknown>;
  const problems = [...Value.Errors(PluginManifest, rest)].slice(0, 3).map((e) => `${e.path || "/"}: ${e.message}`);
  if (problems.length) throw new ManifestError(`invalid manifest: ${problems.join("; ")}`);
  if (settings !== undefined && (typeof settings !== "object" || settings === null || !(Kind in settings))) {
    throw new ManifestError("invalid manifest: `settings` must be a TypeBox schema (Type.Object({...}))");
  }
  const m = rest as Static<typeof PluginManifest>;
  const schema = settings as TSchema | undefined;
  let defaultSettings: Record<string, unknown> = {};
  if (schema) {
    defaultSettings = Value.Default(schema, {}) as Record<string, unknown>;
    const bad = settingsErrors(schema, defaultSettings)[0];
    if (bad) throw new ManifestError(`invalid default settings: ${bad.param || "/"}: ${bad.message}`);
  }
  return {
    name: m.name,
    version: m.version,
    description: m.description ?? "",
    phases: m.phases as HookName[],
    events: m.events ?? [],
    defaultEnabled: m.defaultEnabled ?? true,
    before: m.before ?? [],
    after: m.after ?? [],
    failurePolicy: m.failurePolicy ?? "fail-open",
    timeoutMs: m.timeoutMs ?? 250,
    isolation: m.isolation ?? "inline",
    memoryLimitMb: m.memoryLimitMb ?? 64,
    entry: m.entry ?? "index.ts",
    ...(schema ? { settings: schema } : {}),
    defaultSettings,
  };
}

/** Problems of settings against a schema, as `param` (dotted path) + message. */
export function settingsErrors(schema: TSchema, value: unknown): { param: string; message: string }[] {
  return [...Value.Errors(schema, value)].slice(0, 5).map((e) => ({ param: e.path.replace(/^\//, "").replace(/\//g, "."), message: e.message }));
}
