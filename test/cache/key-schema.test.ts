/**
 * The schema walk: every property of the canonical request schema (nested ones included, and an
 * unknown extra at every level that allows one) either changes the cache key or belongs to the
 * reviewed list of output-neutral fields. A field added to the schema later is walked too: if
 * the key ignored it without a decision recorded here, this test fails.
 */
import { describe, expect, test } from "bun:test";
import type { TSchema } from "@sinclair/typebox";
import { Kind } from "@sinclair/typebox";
import { ChatCompletionRequest } from "../../src/canonical/chat.ts";
import { cacheKey, OUTPUT_NEUTRAL_FIELDS } from "../../src/cache/key.ts";

/** The reviewed decision: top-level fields that must NOT change the key (model is keyed on its own). */
const REVIEWED_NEUTRAL = ["stream", "stream_options", "user", "metadata"];

interface Mutation {
  path: string;
  base: unknown;
  changed: unknown;
}

type S = TSchema & Record<string, any>;

function sample(s: S): unknown {
  switch (s[Kind]) {
    case "Object":
      return Object.fromEntries(Object.entries(s.properties as Record<string, S>).map(([k, v]) => [k, sample(v)]));
    case "Array":
      return [sample(s.items)];
    case "Union":
      return sample((s.anyOf as S[]).find((v) => v[Kind] !== "Null")!);
    case "Literal":
      return s.const;
    case "String":
      return "alpha";
    case "Number":
    case "Integer":
      return s.minimum ?? 0;
    case "Boolean":
      return true;
    case "Record":
      return { k: sample(Object.values(s.patternProperties as Record<string, S>)[0]!) };
    case "Unknown":
      return { a: 1 };
    case "Null":
      return null;
    default:
      throw new Error(`schema walk: no sample for kind ${String(s[Kind])}: teach the walk this kind`);
  }
}

/** Every way to change one leaf of a value of schema `s` while the rest stays the same. */
function mutations(s: S): Mutation[] {
  switch (s[Kind]) {
    case "Object": {
      const base = sample(s) as Record<string, unknown>;
      const out: Mutation[] = [];
      for (const [k, v] of Object.entries(s.properties as Record<string, S>)) {
        for (const m of mutations(v)) out.push({ path: m.path ? `${k}.${m.path}` : k, base: { ...base, [k]: m.base }, changed: { ...base, [k]: m.changed } });
        if (!(s.required ?? []).includes(k)) {
          const { [k]: _drop, ...without } = base;
          out.push({ path: `${k}(presence)`, base: without, changed: base });
        }
      }
      if (s.additionalProperties !== false) out.push({ path: "(extra)", base, changed: { ...base, x_extra_param: "z" } });
      return out;
    }
    case "Array":
      return mutations(s.items).map((m) => ({ path: `[]${m.path ? `.${m.path}` : ""}`, base: [m.base], changed: [m.changed] }));
    case "Union": {
      const variants = (s.anyOf as S[]).filter((v) => v[Kind] !== "Null");
      const out = variants.flatMap((v) => mutations(v));
      for (let i = 1; i < variants.length; i++) out.push({ path: `(variant ${i})`, base: sample(variants[0]!), changed: sample(variants[i]!) });
      return out;
    }
    case "String":
      return [{ path: "", base: "alpha", changed: "beta" }];
    case "Number": {
      const lo = s.minimum ?? 0;
      const hi = s.maximum ?? lo + 10;
      return [{ path: "", base: lo + (hi - lo) / 4, changed: lo + (hi - lo) / 2 }];
    }
    case "Integer": {
      const lo = s.minimum ?? 0;
      const hi = s.maximum ?? lo + 10;
      return lo + 1 <= hi ? [{ path: "", base: lo, changed: lo + 1 }] : [];
    }
    case "Boolean":
      return [{ path: "", base: true, changed: false }];
    case "Record": {
      const inner = Object.values(s.patternProperties as Record<string, S>)[0]!;
      return [...mutations(inner).map((m) => ({ path: `{}${m.path ? `.${m.path}` : ""}`, base: { k: m.base }, changed: { k: m.changed } })), { path: "{key}", base: { k: sample(inner) }, changed: { j: sample(inner) } }];
    }
    case "Unknown":
      return [{ path: "", base: { a: 1 }, changed: { a: 2 } }];
    case "Literal":
    case "Null":
      return [];
    default:
      throw new Error(`schema walk: cannot mutate kind ${String(s[Kind])}: teach the walk this kind`);
  }
}

const keyOf = (request: unknown) => cacheKey({ scope: "tenant:t", operation: "chat", request: request as ChatCompletionRequest, route: { model: "m" } });

describe("cache key: the schema walk", () => {
  const all = mutations(ChatCompletionRequest as S);

  test("the reviewed output-neutral list is exactly the one the key uses", () => {
    expect(Object.keys(OUTPUT_NEUTRAL_FIELDS).sort()).toEqual(["model", ...REVIEWED_NEUTRAL].sort());
  });

  test("the walk reaches nested properties and extras (it cannot pass by walking nothing)", () => {
    const paths = new Set(all.map((m) => m.path));
    for (const p of ["model", "temperature", "max_tokens", "seed", "stop.(variant 1)", "messages.[].content.(variant 1)", "messages.[].content.[].image_url.detail", "messages.[].tool_calls.[].function.arguments", "messages.[].(extra)", "tools.[].function.parameters.{}", "tools.[].function.strict", "tool_choice", "response_format.type", "response_format.(extra)", "(extra)", "stream_options.include_usage", "metadata.{}"]) {
      expect([p, paths.has(p)]).toEqual([p, true]);
    }
    expect(all.length).toBeGreaterThan(60);
  });

  test("every property either changes the key or is on the reviewed output-neutral list", () => {
    const wrong: string[] = [];
    for (const m of all) {
      const top = m.path.split(/[.(]/)[0]!;
      const neutral = REVIEWED_NEUTRAL.includes(top);
      const same = keyOf(m.base) === keyOf(m.changed);
      if (neutral !== same) wrong.push(`${m.path}: ${neutral ? "on the neutral list but changes the key" : "does not change the key and is not on the neutral list"}`);
    }
    expect(wrong).toEqual([]);
  });
});
