import type { AnalyticsStore } from "../../src/analytics/store.ts";

/** A store that passes every call to `store`, except the methods given (to count or fail calls in a test). */
export function delegatingStore(store: AnalyticsStore, overrides: Partial<Pick<AnalyticsStore, "insert" | "insertRows" | "query" | "exec">>): AnalyticsStore {
  return {
    kind: store.kind,
    database: store.database,
    migrate: () => store.migrate(),
    insert: (rows, token) => store.insert(rows, token),
    insertRows: (table, columns, rows, token) => store.insertRows(table, columns, rows, token),
    query: (sql, params) => store.query(sql, params),
    exec: (sql, params) => store.exec(sql, params),
    drop: () => store.drop(),
    health: () => store.health(),
    close: () => store.close(),
    ...overrides,
  };
}
