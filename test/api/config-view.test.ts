/**
 * The config view is derived from the one config model: every entity kind the decider knows
 * (ENTITY_KINDS — kinds added later included, with no edit here) is listed, now and at an
 * earlier version; secrets never show. Plus `?at=` parsing and history pages (pure).
 */
import { describe, expect, test } from "bun:test";
import { listName, page, parseAt, parsePage, stateView } from "../../src/api/config-view.ts";
import { evolve } from "../../src/projections/config/decider.ts";
import { ENTITY_KINDS, type ConfigEvent, type ConfigState, initialState } from "../../src/projections/config/model.ts";

function fold(kinds: readonly string[]): ConfigState[] {
  const states = [initialState()];
  kinds.forEach((kind, position) => {
    const event = { type: `${kind}.created`, payload: { kind, id: `x-${kind}`, version: 1, fields: { note: kind, hash: "a".repeat(64), secret_enc: "sealed" } } } as unknown as ConfigEvent;
    states.push(evolve(states.at(-1)!, event, { time: new Date(Date.UTC(2026, 0, 1, 0, position)).toISOString(), actor: "test", position }));
  });
  return states;
}

describe("stateView", () => {
  test("every entity kind of the model has its list, with its entity; secrets left out", () => {
    const states = fold(ENTITY_KINDS);
    const view = stateView(states.at(-1)!);
    const names = ENTITY_KINDS.map(listName);
    expect(new Set(names).size).toBe(ENTITY_KINDS.length); // no two kinds share a list
    for (const kind of ENTITY_KINDS) {
      const list = view[listName(kind)] as Array<Record<string, unknown>>;
      expect(list.map((e) => e.id)).toEqual([`x-${kind}`]);
      expect(list[0]).not.toHaveProperty("hash");
      expect(list[0]).not.toHaveProperty("secret_enc");
    }
    expect(view.config_version).toBe(ENTITY_KINDS.length);
  });

  test("at an earlier version: every list is there, holding only what existed then", () => {
    const states = fold(ENTITY_KINDS);
    const half = Math.floor(ENTITY_KINDS.length / 2);
    const view = stateView(states[half]!, { version: half });
    ENTITY_KINDS.forEach((kind, i) => {
      expect((view[listName(kind)] as unknown[]).length).toBe(i < half ? 1 : 0);
    });
    expect(view.at_version).toBe(half);
  });
});

describe("?at= and history pages", () => {
  test("a version or an RFC 3339 time; nothing else", () => {
    expect(parseAt("5", 10)).toEqual({ version: 5 });
    expect(parseAt("0", 10)).toEqual({ version: 0 });
    expect(parseAt("2026-11-22T12:00:00Z", 10)).toEqual({ time: new Date("2026-11-22T12:00:00Z") });
    expect(parseAt("2026-11-22T12:00:00.5+02:00", 10)).toEqual({ time: new Date("2026-11-22T10:00:00.5Z") });
    for (const bad of ["11", "yesterday", "2026-11-22", "2026-13-40T12:00:00Z", "5.0", " 5", "0x5", ""]) {
      expect(() => parseAt(bad, 10)).toThrow(expect.objectContaining({ status: 400, code: "invalid_request", param: "at" }));
    }
  });

  test("limit (default 100, at most 1000) and before page back from the newest", () => {
    const entries = Array.from({ length: 250 }, (_, i) => ({ position: i }));
    const first = page(entries, parsePage({}));
    expect(first.data.map((e) => e.position)).toEqual(entries.slice(150).map((e) => e.position));
    expect(first).toMatchObject({ has_more: true, next_before: 150 });
    const last = page(entries, parsePage({ limit: "200", before: "150" }));
    expect(last.data.length).toBe(150);
    expect(last).toMatchObject({ has_more: false, next_before: null });
    for (const bad of [{ limit: "0" }, { limit: "1001" }, { limit: "x" }, { before: "-1" }]) expect(() => parsePage(bad)).toThrow(expect.objectContaining({ status: 400 }));
  });
});
