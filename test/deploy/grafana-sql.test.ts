/** The Grafana + ClickHouse-plugin expansion the dashboard tests rely on, against the plugin's own outputs. */
import { describe, expect, test } from "bun:test";
import { applyConditionalAll, durationMs, expandMacros, expandQuery, interpolateVariables, type QueryContext } from "./grafana-sql.ts";

const ctx: QueryContext = {
  from: new Date("2025-03-01T00:00:00.000Z"),
  to: new Date("2025-03-01T06:00:00.250Z"),
  intervalMs: 90_500,
  variables: { tenant: { selected: ["acme", "o'brien"] }, env: { all: true, options: ["prod", "dev"] } },
};

describe("Grafana / ClickHouse plugin SQL expansion", () => {
  test("backend macros expand like pkg/macros/macros.go", () => {
    expect(expandMacros("$__timeFilter(time)", ctx)).toBe("time >= toDateTime(1740787200) AND time <= toDateTime(1740808800)");
    expect(expandMacros("$__timeFilter_ms(time)", ctx)).toBe(
      "time >= fromUnixTimestamp64Milli(1740787200000) AND time <= fromUnixTimestamp64Milli(1740808800250)",
    );
    expect(expandMacros("$__fromTime|$__toTime_ms", ctx)).toBe("toDateTime(1740787200)|fromUnixTimestamp64Milli(1740808800250)");
    expect(expandMacros("$__timeInterval(t) AS b, $__interval_s", ctx)).toBe("toStartOfInterval(toDateTime(t), INTERVAL 90 second) AS b, 90");
    expect(expandMacros("$__dateFilter(d)", ctx)).toBe("d >= toDate('2025-03-01') AND d <= toDate('2025-03-01')");
    expect(expandMacros("$__interval_s", { ...ctx, intervalMs: 10 })).toBe("1"); // never below one second
    expect(() => expandMacros("$__timeFilter(a, b)", ctx)).toThrow("takes 1 argument");
    expect(() => expandMacros("$__nope(x)", ctx)).toThrow("unknown macro $__nope");
  });

  test("$__conditionalAll: 1=1 for All or an empty value, else the condition", () => {
    expect(applyConditionalAll("WHERE $__conditionalAll(env IN (${env:singlequote}), $env)", ctx.variables)).toBe("WHERE 1=1");
    expect(applyConditionalAll("WHERE $__conditionalAll(tenant IN (${tenant:singlequote}), $tenant)", ctx.variables)).toBe(
      "WHERE tenant IN (${tenant:singlequote})",
    );
    expect(applyConditionalAll("$__conditionalAll(x = 1, $tenant)", { tenant: { selected: [] } })).toBe("1=1");
  });

  test("template variables: formats, All as every option, unknown names left alone", () => {
    const vars = ctx.variables;
    expect(interpolateVariables("${tenant:singlequote}", vars)).toBe("'acme','o\\'brien'");
    expect(interpolateVariables("${tenant:sqlstring}", vars)).toBe("'acme','o''brien'");
    // No format: the plugin's formatter quotes but does not escape (why the dashboard says :singlequote).
    expect(interpolateVariables("$tenant [[env]] ${env:csv}", vars)).toBe("'acme','o'brien' 'prod','dev' prod,dev");
    expect(interpolateVariables("$__timeFilter(time) $other", vars)).toBe("$__timeFilter(time) $other");
    expect(() => interpolateVariables("${tenant:lucene}", vars)).toThrow("unsupported variable format");
  });

  test("expandQuery refuses SQL with anything left unexpanded", () => {
    expect(expandQuery("SELECT 1 WHERE $__conditionalAll(tenant IN (${tenant:singlequote}), $tenant)", ctx)).toBe(
      "SELECT 1 WHERE tenant IN ('acme','o\\'brien')",
    );
    expect(() => expandQuery("SELECT $unknown", ctx)).toThrow("unexpanded reference $unknown");
  });

  test("Grafana durations", () => {
    expect([durationMs("1h"), durationMs("1m"), durationMs("30s"), durationMs("2d")]).toEqual([3_600_000, 60_000, 30_000, 172_800_000]);
    expect(() => durationMs("1 hour")).toThrow();
  });
});
