/**
 * The one place that names the cost columns of `usage_events` and their unit. Issue 23 moves
 * costs to integer nano-dollars (`cost_nanos` / `saved_nanos`, 1 USD = 1e9): switching the
 * explorer over is this file only.
 */
export const COST_COLUMN = "cost_nanos";
export const SAVED_COLUMN = "saved_nanos";
/** Units of the cost columns per USD. */
export const COST_UNITS_PER_USD = 1_000_000_000;

/** A cost column value (integer units) as USD. */
export const toUsd = (units: number | string): number => Number(units) / COST_UNITS_PER_USD;
/** USD as cost column units (for filters such as `min_cost`). */
export const fromUsd = (usd: number): number => Math.round(usd * COST_UNITS_PER_USD);
