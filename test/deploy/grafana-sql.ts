/**
 * What Grafana and the ClickHouse data source plugin (grafana-clickhouse-datasource v4) do to a
 * panel's SQL before ClickHouse sees it, as pure functions, so the dashboard's queries can run on
 * the real engine in a test. The three steps, in the plugin's order:
 *
 *   1. `$__conditionalAll(<condition>, $var)` (the plugin's frontend, CHDatasource.applyConditionalAll):
 *      `1=1` when the variable is "All" (`$__all`) or empty, else the condition.
 *   2. Template variables (Grafana's templateSrv): `$var`, `${var}`, `${var:format}`, `[[var]]`.
 *      No format: the plugin's own formatter (`'a','b'` for a multi-value variable).
 *   3. Backend macros (pkg/macros/macros.go, over sqlds): `$__timeFilter(col)`, `$__timeFilter_ms(col)`,
 *      `$__fromTime`, `$__toTime`, `$__fromTime_ms`, `$__toTime_ms`, `$__dateFilter(col)`,
 *      `$__timeInterval(col)`, `$__timeInterval_ms(col)`, `$__interval_s`.
 *
 * Anything left with a `$` afterwards is an error: Grafana would have sent it to ClickHouse verbatim.
 */

/** A template variable's selection: "All" (with the options the variable query returned) or values. */
export type VariableState = { all: true; options: string[] } | { selected: string[] };

export interface QueryContext {
  /** The dashboard time range. */
  from: Date;
  to: Date;
  /** The query interval Grafana computed for the panel (already raised to the panel's min interval). */
  intervalMs: number;
  variables: Record<string, VariableState>;
}

/** Index of the `)` closing the `(` at `open` (quote-aware), or -1. */
function closingParen(sql: string, open: number): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = open; i < sql.length; i++) {
    const c = sql[i]!;
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === "'" || c === '"' || c === "`") quote = c;
    else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return i;
  }
  return -1;
}

/** Top-level comma-separated arguments of the parenthesised list starting at `open`. */
function macroArgs(sql: string, open: number): { args: string[]; end: number } {
  const close = closingParen(sql, open);
  if (close < 0) throw new Error(`unclosed macro arguments at ${sql.slice(open - 20, open + 20)}`);
  const args: string[] = [];
  let depth = 0;
  let start = open + 1;
  let quote: string | undefined;
  for (let i = open + 1; i < close; i++) {
    const c = sql[i]!;
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"' || c === "`") quote = c;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      args.push(sql.slice(start, i));
      start = i + 1;
    }
  }
  args.push(sql.slice(start, close));
  return { args, end: close + 1 };
}

/** The variable's `current.value` as the plugin stringifies it. */
function currentValue(state: VariableState): string {
  return "all" in state ? "$__all" : state.selected.join(",");
}

/** Step 1: `$__conditionalAll(cond, $var)` → `1=1` for All/empty, else `cond` (innermost first, like the plugin). */
export function applyConditionalAll(sql: string, variables: Record<string, VariableState>): string {
  const macro = "$__conditionalAll(";
  for (let at = sql.lastIndexOf(macro); at >= 0; at = sql.lastIndexOf(macro)) {
    const { args, end } = macroArgs(sql, at + macro.length - 1);
    if (args.length !== 2) throw new Error(`$__conditionalAll takes 2 arguments, got ${args.length}`);
    const ref = args[1]!.trim();
    const name = /^\$\{?(\w+)\}?$/.exec(ref)?.[1];
    if (!name) throw new Error(`$__conditionalAll: second argument must be a variable, got ${ref}`);
    const state = variables[name];
    if (!state) throw new Error(`$__conditionalAll: unknown variable ${name}`);
    const value = currentValue(state);
    const phrase = value === "" || value === "$__all" ? "1=1" : args[0]!;
    sql = sql.slice(0, at) + phrase + sql.slice(end);
  }
  return sql;
}

function values(state: VariableState): string[] {
  return "all" in state ? state.options : state.selected;
}

const FORMATS: Record<string, (vs: string[]) => string> = {
  // Grafana's built-in formats.
  singlequote: (vs) => vs.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(","),
  sqlstring: (vs) => vs.map((v) => `'${v.replace(/'/g, "''")}'`).join(","),
  doublequote: (vs) => vs.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(","),
  csv: (vs) => vs.join(","),
  raw: (vs) => vs.join(","),
};

/** Step 2: Grafana template variables. Unknown names are left alone (they may be macros). */
export function interpolateVariables(sql: string, variables: Record<string, VariableState>): string {
  const re = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::([^}]+))?\}/g;
  return sql.replace(re, (match, bare?: string, bracket?: string, bracketFmt?: string, braced?: string, bracedFmt?: string) => {
    const name = bare ?? bracket ?? braced!;
    const state = variables[name];
    if (!state) return match;
    const format = bracketFmt ?? bracedFmt;
    const vs = values(state);
    if (format === undefined) return `'${vs.join("','")}'`; // the plugin's formatter for a multi-value variable
    const f = FORMATS[format];
    if (!f) throw new Error(`unsupported variable format ${format} in ${match}`);
    return f(vs);
  });
}

const dateTime = (d: Date) => `toDateTime(${Math.floor(d.getTime() / 1000)})`;
const dateTime64 = (d: Date) => `fromUnixTimestamp64Milli(${d.getTime()})`;
const date = (d: Date) => `toDate('${d.toISOString().slice(0, 10)}')`;

type Macro = (args: string[], ctx: QueryContext) => string;

function oneArg(name: string, f: (col: string, ctx: QueryContext) => string): Macro {
  return (args, ctx) => {
    if (args.length !== 1 || !args[0]) throw new Error(`$__${name} takes 1 argument, got ${args.length}`);
    return f(args[0], ctx);
  };
}

const seconds = (ctx: QueryContext) => Math.trunc(Math.max(ctx.intervalMs / 1000, 1));

/** The plugin's backend macros (pkg/macros/macros.go). */
const MACROS: Record<string, Macro> = {
  fromTime: (_, ctx) => dateTime(ctx.from),
  toTime: (_, ctx) => dateTime(ctx.to),
  fromTime_ms: (_, ctx) => dateTime64(ctx.from),
  toTime_ms: (_, ctx) => dateTime64(ctx.to),
  timeFilter: oneArg("timeFilter", (c, ctx) => `${c} >= ${dateTime(ctx.from)} AND ${c} <= ${dateTime(ctx.to)}`),
  timeFilter_ms: oneArg("timeFilter_ms", (c, ctx) => `${c} >= ${dateTime64(ctx.from)} AND ${c} <= ${dateTime64(ctx.to)}`),
  dateFilter: oneArg("dateFilter", (c, ctx) => `${c} >= ${date(ctx.from)} AND ${c} <= ${date(ctx.to)}`),
  timeInterval: oneArg("timeInterval", (c, ctx) => `toStartOfInterval(toDateTime(${c}), INTERVAL ${seconds(ctx)} second)`),
  timeInterval_ms: oneArg("timeInterval_ms", (c, ctx) => `toStartOfInterval(toDateTime64(${c}, 3), INTERVAL ${Math.trunc(Math.max(ctx.intervalMs, 1))} millisecond)`),
  interval_s: (_, ctx) => String(seconds(ctx)),
};

/** Step 3: backend macros. An unknown `$__name` is an error (the plugin would pass it to ClickHouse). */
export function expandMacros(sql: string, ctx: QueryContext): string {
  let out = "";
  let i = 0;
  const re = /\$__(\w+)/g;
  for (let m = re.exec(sql); m; m = re.exec(sql)) {
    const name = m[1]!;
    const macro = MACROS[name];
    if (!macro) throw new Error(`unknown macro $__${name}`);
    let end = m.index + m[0].length;
    let args: string[] = [];
    if (sql[end] === "(") ({ args, end } = macroArgs(sql, end));
    out += sql.slice(i, m.index) + macro(args.map((a) => a.trim()), ctx);
    i = end;
    re.lastIndex = end;
  }
  return out + sql.slice(i);
}

/** The SQL ClickHouse receives for `rawSql` in context `ctx`. Throws if anything is left unexpanded. */
export function expandQuery(rawSql: string, ctx: QueryContext): string {
  const sql = expandMacros(interpolateVariables(applyConditionalAll(rawSql, ctx.variables), ctx.variables), ctx);
  const left = /\$\{?\w+|\[\[\w+/.exec(sql);
  if (left) throw new Error(`unexpanded reference ${left[0]} in:\n${sql}`);
  return sql;
}

/** Grafana duration (`30s`, `5m`, `1h`, `1d`) in ms. */
export function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d|w)$/.exec(text.trim());
  if (!m) throw new Error(`not a Grafana duration: ${text}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as "ms"];
  return Number(m[1]) * unit;
}
