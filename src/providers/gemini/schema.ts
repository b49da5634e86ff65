/**
 * JSON Schema (as OpenAI clients send it in `tools[].function.parameters` and
 * `response_format.json_schema.schema`) → the OpenAPI-subset `Schema` object Gemini accepts
 * in `functionDeclarations[].parameters` and `generationConfig.responseSchema`.
 *
 * Gemini answers 400 ("Unknown name …") for keys outside its subset, so only known keys are
 * kept: `additionalProperties`, `$schema`, `$id`, `strict`, `examples`, `not`, … are dropped.
 * Local `$ref`s (`#/$defs/X`, `#/definitions/X`) are inlined (a recursive reference becomes a
 * plain `{type:"object"}`), `type: [T, "null"]` becomes `type: T, nullable: true`, `oneOf`
 * becomes `anyOf`, `const` becomes a one-value `enum`, and a `format` Gemini does not know is
 * dropped.
 */

type Json = Record<string, unknown>;

const KEPT_KEYS = new Set([
  "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties", "required",
  "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf", "propertyOrdering",
  "default", "items", "minimum", "maximum",
]);
const KNOWN_FORMATS = new Set(["enum", "date-time", "int32", "int64", "float", "double"]);

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Translates a JSON Schema to Gemini's `Schema`. Pure; the input is not modified. */
export function toGeminiSchema(schema: unknown): Json {
  if (!isObject(schema)) return {};
  const defs = { ...(isObject(schema.definitions) ? schema.definitions : {}), ...(isObject(schema.$defs) ? schema.$defs : {}) };
  return convert(schema, defs, []);
}

function convert(schema: unknown, defs: Json, resolving: readonly string[]): Json {
  if (!isObject(schema)) return {};
  if (typeof schema.$ref === "string") {
    const name = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(schema.$ref)?.[1];
    const target = name === undefined ? undefined : defs[name];
    if (name === undefined || !isObject(target) || resolving.includes(name)) return { type: "object" };
    const { $ref: _ref, ...siblings } = schema;
    return convert({ ...target, ...siblings }, defs, [...resolving, name]);
  }
  const sub = (s: unknown) => convert(s, defs, resolving);
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (!KEPT_KEYS.has(key)) continue;
    if (key === "properties" && isObject(value)) {
      out.properties = Object.fromEntries(Object.entries(value).map(([name, s]) => [name, sub(s)]));
    } else if (key === "items") {
      out.items = sub(value);
    } else if (key === "anyOf" && Array.isArray(value)) {
      out.anyOf = value.map(sub);
    } else if (key === "type" && Array.isArray(value)) {
      Object.assign(out, typeUnion(value));
    } else if (key === "format") {
      if (typeof value === "string" && KNOWN_FORMATS.has(value)) out.format = value;
    } else {
      out[key] = value;
    }
  }
  if (Array.isArray(schema.oneOf) && out.anyOf === undefined) out.anyOf = schema.oneOf.map(sub);
  if ("const" in schema && out.enum === undefined) out.enum = [schema.const];
  return out;
}

/** `type: ["string", "null"]` → `{type: "string", nullable: true}`; several non-null types → `anyOf`. */
function typeUnion(types: unknown[]): Json {
  const nonNull = types.filter((t) => t !== "null");
  const nullable = nonNull.length < types.length ? { nullable: true } : {};
  if (nonNull.length === 1) return { type: nonNull[0], ...nullable };
  if (nonNull.length === 0) return nullable;
  return { anyOf: nonNull.map((type) => ({ type })), ...nullable };
}
