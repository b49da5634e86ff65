/**
 * LOG_LEVEL for the process: the gateway logs with `console.debug/log/info` (info),
 * `console.warn` and `console.error`; levels below the chosen one are silenced.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const noop = () => {};

/** Silence console methods below `level` (errors are always kept). */
export function applyLogLevel(level: LogLevel, target: Pick<Console, "debug" | "log" | "info" | "warn"> = console): void {
  const min = ORDER[level];
  if (min > ORDER.debug) target.debug = noop;
  if (min > ORDER.info) {
    target.log = noop;
    target.info = noop;
  }
  if (min > ORDER.warn) target.warn = noop;
}
