/**
 * ChdbAnalyticsStore: the embedded AnalyticsStore — the ClickHouse engine in-process (chDB), its
 * data under a directory (`$TOLLGATE_DATA_DIR/analytics`). Async API only (`queryAsync`,
 * `queryBindAsync`, `insert` with a JSONEachRow Buffer): the event loop is never blocked.
 * chDB allows one data directory per process at a time (sessions at the same path coexist).
 *
 * @example
 * const store = await ChdbAnalyticsStore.open("./data/analytics");
 * await store.migrate();
 * await store.insert(rows, "requests:0:0-99");
 */
import { drainPending, Session } from "chdb";
import { mkdirSync } from "node:fs";
import { migrationStatements, checkIdentifier, type UsageRow, storedValue } from "./schema.ts";
import { migrateExplorer } from "./explorer-columns.ts";
import { checkRowTarget, parseJsonEachRow, type RowTable, toColumns, type AnalyticsHealth, type AnalyticsParams, type AnalyticsStore } from "./store.ts";

export interface ChdbStoreOptions {
  /** Database name (default `tollgate`). */
  database?: string;
}

export class ChdbAnalyticsStore implements AnalyticsStore {
  readonly kind = "chdb" as const;
  readonly database: string;
  #session: Session | undefined;

  private constructor(session: Session, database: string) {
    this.#session = session;
    this.database = database;
  }

  /** Opens (creating if needed) the chDB data directory `dir`. */
  static async open(dir: string, options: ChdbStoreOptions = {}): Promise<ChdbAnalyticsStore> {
    const database = checkIdentifier(options.database ?? "tollgate");
    mkdirSync(dir, { recursive: true });
    await drainPending(); // a session at another path may still be closing
    const store = new ChdbAnalyticsStore(new Session(dir), database);
    await store.#useDatabase();
    return store;
  }

  get #s(): Session {
    if (!this.#session) throw new Error("ChdbAnalyticsStore is closed");
    return this.#session;
  }

  async #useDatabase(): Promise<void> {
    await this.#s.queryAsync(`CREATE DATABASE IF NOT EXISTS ${this.database}`);
    await this.#s.queryAsync(`USE ${this.database}`);
  }

  async migrate(): Promise<void> {
    for (const sql of migrationStatements(this.database)) await this.#s.queryAsync(sql);
    await migrateExplorer(this, this.database);
    await this.#s.queryAsync(`USE ${this.database}`);
  }

  async insert(rows: readonly UsageRow[], dedupToken?: string): Promise<void> {
    if (rows.length === 0) return;
    const { columns, values } = toColumns(rows, storedValue);
    await this.insertRows("usage_events", columns, values, dedupToken);
  }

  /** JSONCompactEachRow through chDB's raw insert (the data never goes through the SQL parser). */
  async insertRows(table: RowTable, columns: readonly string[], rows: readonly (readonly unknown[])[], dedupToken?: string): Promise<void> {
    if (rows.length === 0) return;
    const checked = checkRowTarget(table, columns);
    let body = "";
    for (const r of rows) body += JSON.stringify(r) + "\n";
    await this.#s.insert({
      table: `${this.database}.${table}`,
      columns: checked,
      values: Buffer.from(body),
      format: "JSONCompactEachRow",
      ...(dedupToken ? { settings: { insert_deduplication_token: dedupToken } } : {}),
    });
  }

  async query<T>(sql: string, params?: AnalyticsParams): Promise<T[]> {
    const opts = { format: "JSONEachRow" };
    const result = params && Object.keys(params).length > 0
      ? await this.#s.queryBindAsync(sql, params, opts)
      : await this.#s.queryAsync(sql, opts);
    return parseJsonEachRow<T>(result.text());
  }

  async exec(sql: string, params?: AnalyticsParams): Promise<void> {
    if (params && Object.keys(params).length > 0) await this.#s.queryBindAsync(sql, params);
    else await this.#s.queryAsync(sql);
  }

  async drop(): Promise<void> {
    await this.#s.queryAsync(`DROP DATABASE IF EXISTS ${this.database} SYNC`);
    await this.#useDatabase();
  }

  async health(): Promise<AnalyticsHealth> {
    try {
      const [row] = await this.query<{ v: string }>("SELECT version() AS v");
      return { ok: true, kind: this.kind, ...(row ? { version: row.v } : {}) };
    } catch (error) {
      return { ok: false, kind: this.kind, error: error instanceof Error ? error.message : String(error) };
    }
  }

  async close(): Promise<void> {
    const s = this.#session;
    this.#session = undefined;
    if (s) {
      s.close();
      await drainPending();
    }
  }
}
