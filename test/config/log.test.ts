import { describe, expect, test } from "bun:test";
import { applyLogLevel } from "../../src/telemetry/log.ts";

describe("applyLogLevel", () => {
  const sink = () => {
    const seen: string[] = [];
    const c = { debug: () => void seen.push("debug"), log: () => void seen.push("log"), info: () => void seen.push("info"), warn: () => void seen.push("warn") };
    return { c, seen, all: () => (c.debug(), c.log(), c.info(), c.warn(), seen) };
  };
  for (const [level, expected] of [
    ["debug", ["debug", "log", "info", "warn"]],
    ["info", ["log", "info", "warn"]],
    ["warn", ["warn"]],
    ["error", []],
  ] as const) {
    test(`${level} keeps ${expected.join(", ") || "nothing but errors"}`, () => {
      const s = sink();
      applyLogLevel(level, s.c);
      expect(s.all()).toEqual([...expected]);
    });
  }
});
