/**
 * ClickHouseAnalyticsStore: the distributed AnalyticsStore — a ClickHouse server over HTTP through
 * `@clickhouse/client` (`CLICKHOUSE_URL`, user, password, database). Same SQL as chDB. Connection
 * errors (refused, reset, timeout) are retried with exponential backoff; when the server stays
 * unreachable the error says so, with the URL (never the password).
 *
 * @example
 * const store = await ClickHouseAnalyticsStore.connect({ url: process.env.CLICKHOUSE_URL! });
 * await store.migrate();
 */
import { ClickHouseError, createClient, type ClickHouseClient } from "@clickhouse/client";
import { checkIdentifier, migrationStatements, toClickHouseTime, type UsageRow } from "./schema.ts";
import { migrateExplorer } from "./explorer-columns.ts";
import { checkRowTarget, fromColumns, parseJsonEachRow, type RowTable, type AnalyticsHealth, type AnalyticsParams, type AnalyticsStore } from "./store.ts";

export interface ClickHouseStoreOptions {
  url: string;
  username?: string;
  password?: string;
  /** Database name (default `tollgate`). */
  database?: string;
  /** Attempts per operation on connection errors (default 4). */
  maxAttempts?: number;
  /** First backoff pause, doubled per attempt (default 100 ms). */
  backoffMs?: number;
  /** Per-request timeout (default 30 s). */
  requestTimeoutMs?: number;
}

/** The server could not be reached after every retry. */
export class AnalyticsUnavailableError extends Error {
  readonly code = "analytics_unavailable";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AnalyticsUnavailableError";
  }
}

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN", "ConnectionRefused", "ConnectionClosed", "UND_ERR_SOCKET"]);

/**
 * An error the server answered with: the client's ClickHouseError, or the raw `Code: N, e.displayText() = …`
 * text of servers whose format the client does not parse (e.g. 18.x). Its message may quote the query or
 * the rows (an `upstream_timeout` error code, say), so it is never read for transport words.
 */
function isServerAnswer(err: { message?: unknown }): boolean {
  return err instanceof ClickHouseError || (typeof err.message === "string" && /^Code: \d+[.,]/.test(err.message));
}

/** True for errors of the transport (worth a retry), false for errors the server answered with. */
export function isConnectionError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    const err = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (isServerAnswer(err)) return false;
    if (typeof err.code === "string" && CONNECTION_CODES.has(err.code)) return true;
    if (typeof err.message === "string" && /socket hang up|ECONNREFUSED|ECONNRESET|Unable to connect|timeout|Timeout error|connection (refused|closed)/i.test(err.message)) return true;
    e = err.cause;
  }
  return false;
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    u.password = "";
    u.username = "";
    return u.toString();
  } catch {
    return "<invalid url>";
  }
}

export class ClickHouseAnalyticsStore implements AnalyticsStore {
  readonly kind = "clickhouse" as const;
  readonly database: string;
  readonly #client: ClickHouseClient;
  /** Client without a default database, for CREATE/DROP DATABASE. */
  readonly #admin: ClickHouseClient;
  readonly #url: string;
  readonly #maxAttempts: number;
  readonly #backoffMs: number;

  private constructor(o: ClickHouseStoreOptions, database: string) {
    this.database = database;
    this.#url = redact(o.url);
    this.#maxAttempts = Math.max(1, o.maxAttempts ?? 4);
    this.#backoffMs = o.backoffMs ?? 100;
    const common = {
      url: o.url,
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      request_timeout: o.requestTimeoutMs ?? 30_000,
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 as const },
    };
    this.#client = createClient({ ...common, database });
    this.#admin = createClient(common);
  }

  /** Creates the client (no network yet: the first operation connects, with retries). */
  static async connect(options: ClickHouseStoreOptions): Promise<ClickHouseAnalyticsStore> {
    return new ClickHouseAnalyticsStore(options, checkIdentifier(options.database ?? "tollgate"));
  }

  async #retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let last: unknown;
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      try {
        return await fn();
      } catch (error) {
        if (!isConnectionError(error)) throw error;
        last = error;
        if (attempt < this.#maxAttempts) await Bun.sleep(this.#backoffMs * 2 ** (attempt - 1));
      }
    }
    const reason = last instanceof Error ? last.message : String(last);
    throw new AnalyticsUnavailableError(`ClickHouse at ${this.#url} is unreachable (${what}, ${this.#maxAttempts} attempts): ${reason}`, { cause: last });
  }

  async migrate(): Promise<void> {
    const [createDb, ...rest] = migrationStatements(this.database);
    await this.#retry("migrate", () => this.#admin.command({ query: createDb! }));
    for (const query of rest) await this.#retry("migrate", () => this.#client.command({ query }));
    await migrateExplorer(this, this.database);
  }

  async insert(rows: readonly UsageRow[], dedupToken?: string): Promise<void> {
    if (rows.length === 0) return;
    const values = rows.map((r) => ({ ...r, time: toClickHouseTime(r.time) }));
    await this.#retry("insert", () =>
      this.#client.insert({
        table: "usage_events",
        values,
        format: "JSONEachRow",
        ...(dedupToken ? { clickhouse_settings: { insert_deduplication_token: dedupToken } } : {}),
      }),
    );
  }

  /** As JSONEachRow objects (every server version takes them; the compact shape is chDB's speed-up). */
  async insertRows(table: RowTable, columns: readonly string[], rows: readonly (readonly unknown[])[], dedupToken?: string): Promise<void> {
    if (rows.length === 0) return;
    const values = fromColumns(checkRowTarget(table, columns), rows);
    await this.#retry("insert", () =>
      this.#client.insert({
        table,
        values,
        format: "JSONEachRow",
        ...(dedupToken ? { clickhouse_settings: { insert_deduplication_token: dedupToken } } : {}),
      }),
    );
  }

  async query<T>(sql: string, params?: AnalyticsParams): Promise<T[]> {
    return this.#retry("query", async () => {
      const rs = await this.#client.query({ query: sql, format: "JSONEachRow", ...(params ? { query_params: params } : {}) });
      return parseJsonEachRow<T>(await rs.text());
    });
  }

  async exec(sql: string, params?: AnalyticsParams): Promise<void> {
    await this.#retry("exec", () => this.#client.command({ query: sql, ...(params ? { query_params: params } : {}) }));
  }

  async drop(): Promise<void> {
    await this.#retry("drop", () => this.#admin.command({ query: `DROP DATABASE IF EXISTS ${this.database} SYNC` }));
  }

  async health(): Promise<AnalyticsHealth> {
    try {
      const rs = await this.#admin.query({ query: "SELECT version() AS v", format: "JSONEachRow" });
      const [row] = parseJsonEachRow<{ v: string }>(await rs.text());
      return { ok: true, kind: this.kind, ...(row ? { version: row.v } : {}) };
    } catch (error) {
      return { ok: false, kind: this.kind, error: `ClickHouse at ${this.#url}: ${error instanceof Error ? error.message : String(error)}` };
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.#client.close(), this.#admin.close()]);
  }
}
