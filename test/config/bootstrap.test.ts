import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BootstrapError, bootstrapCommands, builtinProviders, checkEnvKeys, readBootstrapFile } from "../../src/config/bootstrap.ts";
import { loadSettings } from "../../src/config/env.ts";

const dir = mkdtempSync(join(tmpdir(), "tollgate-bootstrap-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe("bootstrap file", () => {
  test("YAML: providers, aliases and prices become config commands", () => {
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
    const f = readBootstrapFile(path);
    checkEnvKeys(f, { VLLM_KEY: "k-123" });
    expect(bootstrapCommands(f, undefined)).toEqual([
      { type: "create", kind: "provider", id: "vllm", fields: { kind: "openai", base_url: "http://127.0.0.1:8000/v1", api_key_env: "VLLM_KEY", models: ["llama-3.1-8b"] } },
      { type: "create", kind: "model_alias", id: "fast", fields: { provider: "vllm", model: "llama-3.1-8b" } },
      { type: "create", kind: "price", id: "vllm/llama-3.1-8b", fields: { input: 0.1, output: 0.2, cached_input: 0.05 } },
    ]);
  });

  test("a literal api_key is sealed, never kept in clear; without a master key it is refused", () => {
    const f = readBootstrapFile(file("lit.yaml", "providers: [{ id: x, kind: openai, base_url: 'http://h/v1', api_key: sk-secret-value-1234 }]"));
    const cmds = bootstrapCommands(f, (k) => ({ enc: `sealed(${k.length})`, hint: "sk-…1234" }));
    expect(JSON.stringify(cmds)).not.toContain("sk-secret-value");
    expect(cmds[0]).toMatchObject({ fields: { api_key_enc: "sealed(20)", api_key_hint: "sk-…1234" } });
    expect(() => bootstrapCommands(f, undefined)).toThrow(/TOLLGATE_MASTER_KEY/);
  });

  test("an alias to the built-in echo provider declares echo first", () => {
    const f = readBootstrapFile(file("echo.json", JSON.stringify({ models: [{ alias: "default", provider: "echo", model: "echo" }] })));
    expect(bootstrapCommands(f, undefined).map((c) => `${c.kind}:${c.id}`)).toEqual(["provider:echo", "model_alias:default"]);
  });

  test("OPENAI_API_KEY registers the built-in openai provider", () => {
    const providers = builtinProviders(loadSettings({ OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: "http://127.0.0.1:9/v1" }));
    expect(providers.map((p) => p.id)).toEqual(["echo", "openai"]);
    expect(providers[1]).toMatchObject({ baseUrl: "http://127.0.0.1:9/v1", apiKey: "sk-test" });
  });

  const bad: Array<[string, string, string, RegExp]> = [
    ["not YAML", "bad.yaml", "providers: [unclosed", /not valid YAML/],
    ["not JSON", "bad.json", "{", /not valid JSON/],
    ["an unknown field", "extra.yaml", "providres: []", /invalid/],
    ["an unknown kind", "kind.yaml", "providers: [{ id: x, kind: magic }]", /invalid/],
    ["an alias to an unknown provider", "alias.yaml", "models: [{ alias: a, provider: ghost, model: m }]", /unknown provider ghost/],
    ["a literal key without a master key", "lit2.yaml", "providers: [{ id: x, kind: openai, base_url: 'http://h', api_key: k }]", /TOLLGATE_MASTER_KEY/],
    ["a custom provider without base_url", "nobase.yaml", "providers: [{ id: x, kind: custom }]", /base_url is required/],
    ["a key from a missing env variable", "noenv.yaml", "providers: [{ id: x, kind: openai, base_url: 'http://h', api_key_env: NOPE_NOT_SET }]", /NOPE_NOT_SET is not set/],
  ];
  for (const [what, name, text, re] of bad) {
    test(`${what} is a clear BootstrapError`, () => {
      const run = () => {
        const f = readBootstrapFile(file(name, text));
        checkEnvKeys(f, {});
        return bootstrapCommands(f, undefined);
      };
      expect(run).toThrow(BootstrapError);
      expect(run).toThrow(re);
    });
  }

  test("a missing file is a clear error", () => {
    expect(() => readBootstrapFile(join(dir, "nope.yaml"))).toThrow(/cannot read/);
  });
});
