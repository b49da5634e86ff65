import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BootstrapError, buildSnapshot, readBootstrapFile } from "../../src/config/bootstrap.ts";
import { loadSettings } from "../../src/config/env.ts";

const dir = mkdtempSync(join(tmpdir(), "tollgate-bootstrap-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe("bootstrap file", () => {
  test("YAML: providers, aliases and prices become the first snapshot", () => {
    const path = file(
      "ok.yaml",
      `providers:
  - id: vllm
    kind: openai
    base_url: http://127.0.0.1:8000/v1/
    api_key_env: VLLM_KEY
    models: [llama-3.1-8b]
models:
  - { alias: fast, provider: vllm, model: llama-3.1-8b }
prices:
  - { provider: vllm, model: llama-3.1-8b, input: 0.1, output: 0.2, cached_input: 0.05 }
`,
    );
    const snap = buildSnapshot(loadSettings({}), readBootstrapFile(path), { VLLM_KEY: "k-123" });
    expect(snap.providers.map((p) => p.id)).toEqual(["echo", "vllm"]);
    expect(snap.providers[1]).toMatchObject({ kind: "openai", baseUrl: "http://127.0.0.1:8000/v1", apiKey: "k-123", models: ["llama-3.1-8b"] });
    expect(snap.models).toEqual([{ alias: "fast", provider: "vllm", model: "llama-3.1-8b" }]);
    expect(snap.prices["vllm/llama-3.1-8b"]).toEqual({ input: 0.1, output: 0.2, cachedInput: 0.05 });
  });

  test("JSON works too", () => {
    const path = file("ok.json", JSON.stringify({ models: [{ alias: "default", provider: "echo", model: "echo" }] }));
    expect(buildSnapshot(loadSettings({}), readBootstrapFile(path)).models[0]!.alias).toBe("default");
  });

  test("OPENAI_API_KEY registers the openai provider", () => {
    const snap = buildSnapshot(loadSettings({ OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: "http://127.0.0.1:9/v1" }));
    expect(snap.providers.find((p) => p.id === "openai")).toMatchObject({ baseUrl: "http://127.0.0.1:9/v1", apiKey: "sk-test" });
  });

  const bad: Array<[string, string, string, RegExp]> = [
    ["not YAML", "bad.yaml", "providers: [unclosed", /not valid YAML/],
    ["not JSON", "bad.json", "{", /not valid JSON/],
    ["an unknown field", "extra.yaml", "providres: []", /invalid/],
    ["an unknown kind", "kind.yaml", "providers: [{ id: x, kind: magic }]", /invalid/],
    ["an alias to an unknown provider", "alias.yaml", "models: [{ alias: a, provider: ghost, model: m }]", /unknown provider ghost/],
    ["an openai provider without base_url", "nobase.yaml", "providers: [{ id: x, kind: openai }]", /base_url is required/],
    ["a key from a missing env variable", "noenv.yaml", "providers: [{ id: x, kind: openai, base_url: 'http://h', api_key_env: NOPE_NOT_SET }]", /NOPE_NOT_SET is not set/],
  ];
  for (const [what, name, text, re] of bad) {
    test(`${what} is a clear BootstrapError`, () => {
      const run = () => buildSnapshot(loadSettings({}), readBootstrapFile(file(name, text)), {});
      expect(run).toThrow(BootstrapError);
      expect(run).toThrow(re);
    });
  }

  test("a missing file is a clear error", () => {
    expect(() => readBootstrapFile(join(dir, "nope.yaml"))).toThrow(/cannot read/);
  });
});
