/**
 * ProcessAnalyticsStore: the embedded AnalyticsStore (chDB) run in a child process of its own,
 * spoken to over Bun's IPC channel. Same contract as `ChdbAnalyticsStore` (test/analytics/contract.ts),
 * but the ClickHouse engine's memory, threads and CPU are out of the gateway process: the request
 * thread only hands rows over (value arrays, see `insertRows`).
 *
 * If the engine process dies, calls in flight fail (the usage projection retries its batch, nothing
 * is lost: offsets are committed after the insert) and the next call starts a new one.
 *
 * @example
 * const store = await ProcessAnalyticsStore.open("./data/analytics");
 * await store.migrate();
 * await store.insert(rows, "requests:0:0-99");
 * store.pid;               // the engine's process id (its RSS is reported apart from the gateway's)
 * await store.close();
 */
import type { Subprocess } from "bun";
import { fileURLToPath } from "node:url";
import { type UsageRow, storedValue } from "./schema.ts";
import type { FramedChunk } from "../events/polling-consumer.ts";
import { type AnalyticsHealth, type AnalyticsParams, type AnalyticsStore, type FramedResult, type RowTable, toColumns } from "./store.ts";
import type { StoreReply, StoreRequest } from "./store-protocol.ts";

const ENTRY = fileURLToPath(new URL("./store-process.ts", import.meta.url));

export interface ProcessStoreOptions {
  /** Database name (default `tollgate`). */
  database?: string;
  /** How long the engine may take to open its directory (default 30 s). */
  startTimeoutMs?: number;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };
type Op = StoreRequest["op"];

export class ProcessAnalyticsStore implements AnalyticsStore {
  readonly kind = "chdb" as const;
  readonly database: string;
  #child: Subprocess | undefined;
  #starting: Promise<Subprocess> | undefined;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;

  private constructor(
    readonly dir: string,
    private readonly options: ProcessStoreOptions,
  ) {
    this.database = options.database ?? "tollgate";
  }

  /** Starts the engine process on `dir`; rejects with chDB's own message if it cannot open it. */
  static async open(dir: string, options: ProcessStoreOptions = {}): Promise<ProcessAnalyticsStore> {
    const store = new ProcessAnalyticsStore(dir, options);
    await store.#ensure();
    return store;
  }

  /** The engine process id, while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  #ensure(): Promise<Subprocess> {
    if (this.#closed) return Promise.reject(new Error("ProcessAnalyticsStore is closed"));
    if (this.#child && !this.#child.killed && this.#child.exitCode === null) return Promise.resolve(this.#child);
    this.#starting ??= this.#spawn().finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  #spawn(): Promise<Subprocess> {
    return new Promise<Subprocess>((resolve, reject) => {
      let ready = false;
      const child = Bun.spawn([process.execPath, ENTRY, this.dir, this.database], {
        stdio: ["ignore", "inherit", "inherit"],
        serialization: "advanced",
        ipc: (message: StoreReply | { ready: boolean; error?: string }) => {
          if ("ready" in message) {
            clearTimeout(timer);
            ready = true;
            if (message.ready) {
              this.#child = child;
              resolve(child);
            } else reject(new Error(message.error ?? "the analytics engine process could not start"));
            return;
          }
          const p = this.#pending.get(message.id);
          if (!p) return;
          this.#pending.delete(message.id);
          if (message.ok) p.resolve(message.value);
          else p.reject(new Error(message.error));
        },
        onExit: (_proc, code, signal) => {
          clearTimeout(timer);
          if (this.#child === child) this.#child = undefined;
          if (!ready) reject(new Error(`the analytics engine process exited before it was ready (code ${code}, signal ${signal})`));
          const lost = [...this.#pending.values()];
          this.#pending.clear();
          for (const p of lost) p.reject(new Error(`the analytics engine process exited (code ${code}, signal ${signal})`));
        },
      });
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error(`the analytics engine process did not start within ${this.options.startTimeoutMs ?? 30_000} ms`));
      }, this.options.startTimeoutMs ?? 30_000);
    });
  }

  async #call<T>(op: Op, ...args: unknown[]): Promise<T> {
    const child = await this.#ensure();
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, op, args } as StoreRequest);
    });
  }

  migrate(): Promise<void> {
    return this.#call("migrate");
  }

  async insert(rows: readonly UsageRow[], dedupToken?: string): Promise<void> {
    if (rows.length === 0) return;
    const { columns, values } = toColumns(rows, storedValue);
    await this.insertRows("usage_events", columns, values, dedupToken);
  }

  async insertRows(table: RowTable, columns: readonly string[], rows: readonly (readonly unknown[])[], dedupToken?: string): Promise<void> {
    if (rows.length === 0) return;
    await this.#call("insertRows", table, columns, rows, ...(dedupToken ? [dedupToken] : []));
  }

  query<T>(sql: string, params?: AnalyticsParams): Promise<T[]> {
    return this.#call("query", sql, ...(params ? [params] : []));
  }

  /** Build and insert the rows of a chunk of framed log records in the engine's process (see AnalyticsStore.projectFramed). */
  projectFramed(chunk: FramedChunk): Promise<FramedResult> {
    return this.#call("projectFramed", chunk);
  }

  exec(sql: string, params?: AnalyticsParams): Promise<void> {
    return this.#call("exec", sql, ...(params ? [params] : []));
  }

  drop(): Promise<void> {
    return this.#call("drop");
  }

  async health(): Promise<AnalyticsHealth> {
    try {
      return await this.#call<AnalyticsHealth>("health");
    } catch (error) {
      return { ok: false, kind: this.kind, error: error instanceof Error ? error.message : String(error) };
    }
  }

  /** The engine process's resident set size in bytes (undefined when it is not running). */
  async rss(): Promise<number | undefined> {
    if (!this.#child) return undefined;
    return this.#call<number>("memory").catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    const child = this.#child ?? (await this.#starting?.catch(() => undefined));
    this.#closed = true;
    if (!child) return;
    const exited = child.exited;
    try {
      const id = this.#nextId++;
      await new Promise<void>((resolve) => {
        this.#pending.set(id, { resolve: () => resolve(), reject: () => resolve() });
        child.send({ id, op: "close", args: [] } satisfies StoreRequest);
      });
    } finally {
      const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(killer);
    }
  }
}
