/** Decider specs: given(events).when(command).then(events) — for every config entity. */
import { describe, expect, test } from "bun:test";
import { evolve } from "../../src/projections/config/decider.ts";
import { type ConfigEvent, initialState } from "../../src/projections/config/model.ts";
import { given } from "./decider-spec.ts";

const echoFields = { kind: "echo", models: ["echo"], enabled: true, priority: 0 };
const vllmFields = { kind: "openai", base_url: "http://127.0.0.1:8000/v1", api_key_env: "VLLM_KEY", models: ["llama"], enabled: true, priority: 0 };
const providerCreated = (id: string, fields: Record<string, unknown> = vllmFields, version = 1): ConfigEvent => ({ type: "provider.created", payload: { kind: "provider", id, version, fields } });
const aliasCreated = (id: string, provider: string, model: string): ConfigEvent => ({ type: "model_alias.created", payload: { kind: "model_alias", id, version: 1, fields: { provider, model } } });

describe("provider", () => {
  test("create fills defaults", () =>
    given()
      .when({ type: "create", kind: "provider", id: "vllm", fields: { kind: "openai", base_url: "http://127.0.0.1:8000/v1", api_key_env: "VLLM_KEY", models: ["llama"] } })
      .then([providerCreated("vllm")]));

  test("create twice → 409 already_exists", () =>
    given(providerCreated("vllm")).when({ type: "create", kind: "provider", id: "vllm", fields: vllmFields }).thenFails(409, "already_exists"));

  test("a custom (or azure) provider without base_url → 400", () =>
    given().when({ type: "create", kind: "provider", id: "x", fields: { kind: "custom", models: [] } }).thenFails(400, "invalid_config"));

  test("an unknown kind → 400", () =>
    given().when({ type: "create", kind: "provider", id: "x", fields: { kind: "magic", models: [] } }).thenFails(400, "invalid_config"));

  test("an unknown field → 400", () =>
    given().when({ type: "create", kind: "provider", id: "x", fields: { ...echoFields, colour: "red" } }).thenFails(400, "invalid_config"));

  test("a bad id → 400 invalid_id", () =>
    given().when({ type: "create", kind: "provider", id: "Bad Id!", fields: echoFields }).thenFails(400, "invalid_id"));

  test("update records the full fields and only what changed", () =>
    given(providerCreated("vllm"))
      .when({ type: "update", kind: "provider", id: "vllm", changes: { models: ["llama", "qwen"], enabled: true } })
      .then([{ type: "provider.updated", payload: { kind: "provider", id: "vllm", version: 2, fields: { ...vllmFields, models: ["llama", "qwen"] }, changes: { models: ["llama", "qwen"] } } }]));

  test("an update that changes nothing records nothing", () =>
    given(providerCreated("vllm")).when({ type: "update", kind: "provider", id: "vllm", changes: { enabled: true } }).then([]));

  test("null removes an optional field", () =>
    given(providerCreated("vllm"))
      .when({ type: "update", kind: "provider", id: "vllm", changes: { api_key_env: null } })
      .then([{ type: "provider.updated", payload: { kind: "provider", id: "vllm", version: 2, fields: { kind: "openai", base_url: "http://127.0.0.1:8000/v1", models: ["llama"], enabled: true, priority: 0 }, changes: { api_key_env: null } } }]));

  test("update with a stale expected version → 409 version_conflict", () =>
    given(providerCreated("vllm"), { type: "provider.updated", payload: { kind: "provider", id: "vllm", version: 2, fields: vllmFields, changes: {} } })
      .when({ type: "update", kind: "provider", id: "vllm", changes: { priority: 3 }, expectedVersion: 1 })
      .thenFails(409, "version_conflict"));

  test("update with the right expected version passes", () =>
    given(providerCreated("vllm"))
      .when({ type: "update", kind: "provider", id: "vllm", changes: { priority: 3 }, expectedVersion: 1 })
      .then([{ type: "provider.updated", payload: { kind: "provider", id: "vllm", version: 2, fields: { ...vllmFields, priority: 3 }, changes: { priority: 3 } } }]));

  test("update of a missing provider → 404", () =>
    given().when({ type: "update", kind: "provider", id: "ghost", changes: {} }).thenFails(404, "not_found"));

  test("delete", () =>
    given(providerCreated("vllm")).when({ type: "delete", kind: "provider", id: "vllm" }).then([{ type: "provider.deleted", payload: { kind: "provider", id: "vllm", version: 2 } }]));

  test("delete of a provider an alias uses → 409 entity_in_use", () =>
    given(providerCreated("vllm"), aliasCreated("fast", "vllm", "llama")).when({ type: "delete", kind: "provider", id: "vllm" }).thenFails(409, "entity_in_use"));

  test("re-create after delete continues the entity's version", () =>
    given(providerCreated("vllm"), { type: "provider.deleted", payload: { kind: "provider", id: "vllm", version: 2 } })
      .when({ type: "create", kind: "provider", id: "vllm", fields: vllmFields })
      .then([providerCreated("vllm", vllmFields, 3)]));
});

describe("model_alias", () => {
  test("create", () =>
    given(providerCreated("vllm")).when({ type: "create", kind: "model_alias", id: "fast", fields: { provider: "vllm", model: "llama" } }).then([aliasCreated("fast", "vllm", "llama")]));

  test("create for an unknown provider → 400 unknown_provider", () =>
    given().when({ type: "create", kind: "model_alias", id: "fast", fields: { provider: "ghost", model: "m" } }).thenFails(400, "unknown_provider"));

  test("update to an unknown provider → 400 unknown_provider", () =>
    given(providerCreated("vllm"), aliasCreated("fast", "vllm", "llama"))
      .when({ type: "update", kind: "model_alias", id: "fast", changes: { provider: "ghost" } })
      .thenFails(400, "unknown_provider"));

  test("an alias id with a slash → 400 invalid_id", () =>
    given(providerCreated("vllm")).when({ type: "create", kind: "model_alias", id: "a/b", fields: { provider: "vllm", model: "m" } }).thenFails(400, "invalid_id"));

  test("delete", () =>
    given(providerCreated("vllm"), aliasCreated("fast", "vllm", "llama"))
      .when({ type: "delete", kind: "model_alias", id: "fast", expectedVersion: 1 })
      .then([{ type: "model_alias.deleted", payload: { kind: "model_alias", id: "fast", version: 2 } }]));
});

describe("price", () => {
  test("create for provider/model", () =>
    given(providerCreated("vllm"))
      .when({ type: "create", kind: "price", id: "vllm/llama", fields: { input: 0.1, output: 0.2 } })
      .then([{ type: "price.created", payload: { kind: "price", id: "vllm/llama", version: 1, fields: { input: 0.1, output: 0.2 } } }]));

  test("a negative price → 400", () =>
    given(providerCreated("vllm")).when({ type: "create", kind: "price", id: "vllm/llama", fields: { input: -1, output: 0 } }).thenFails(400, "invalid_config"));

  test("a price for an unknown provider → 400", () =>
    given().when({ type: "create", kind: "price", id: "ghost/m", fields: { input: 1, output: 1 } }).thenFails(400, "unknown_provider"));
});

describe("evolve", () => {
  test("folds events into entities with versions, authors and the log position", () => {
    const { state } = given(providerCreated("vllm"), aliasCreated("fast", "vllm", "llama"), { type: "model_alias.deleted", payload: { kind: "model_alias", id: "fast", version: 2 } });
    expect(state.version).toBe(3);
    expect(Object.keys(state.entities.provider)).toEqual(["vllm"]);
    expect(state.entities.provider.vllm).toMatchObject({ version: 1, updatedBy: "test" });
    expect(state.entities.model_alias).toEqual({});
    expect(state.tombstones["model_alias:fast"]).toBe(2);
  });

  test("does not mutate its input", () => {
    const s0 = initialState();
    const s1 = evolve(s0, providerCreated("vllm"), { time: "t", actor: "a", position: 0 });
    expect(s0.entities.provider).toEqual({});
    expect(s1.entities.provider.vllm).toBeDefined();
  });
});
