/**
 * A ClickHouse-compatible HTTP server for tests: the real ClickHouse engine (chDB) behind the
 * subset of ClickHouse's HTTP interface that `@clickhouse/client` uses — `GET /ping`, queries and
 * commands in the body (or `?query=`), `param_*` query parameters, `database`, and
 * `INSERT … FORMAT <fmt>` with the rows in the body and per-insert settings in the URL.
 *
 * Debian's clickhouse-server (18.16) is too old for the analytics schema, so tests that wire
 * gateways and a projector the way docker-compose does (CLICKHOUSE_URL) point them here. Run it
 * as its own process (chDB keeps one data directory per process):
 *
 *   bun test/helpers/chdb-http-server.ts <dataDir> <port>     # prints "ready <port>"
 */
import { drainPending, Session } from "chdb";
import { mkdirSync } from "node:fs";

const SETTINGS_PASSED_TO_INSERT = new Set(["insert_deduplication_token", "async_insert", "wait_for_async_insert"]);

export function startChdbHttpServer(dir: string, port: number) {
  mkdirSync(dir, { recursive: true });
  const session = new Session(dir);
  let current = "default";

  const useDatabase = async (db: string | null) => {
    if (!db || db === current) return;
    try {
      await session.queryAsync(`USE ${db.replace(/[^A-Za-z0-9_]/g, "")}`);
      current = db;
    } catch {
      // Not created yet (the migration's CREATE DATABASE comes first): stay where we are.
    }
  };

  const fail = (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    const code = /Code: (\d+)/.exec(message)?.[1] ?? "1";
    return new Response(message.startsWith("Code:") ? message : `Code: ${code}. DB::Exception: ${message}`, {
      status: 500,
      headers: { "x-clickhouse-exception-code": code, "content-type": "text/plain; charset=UTF-8" },
    });
  };

  // One statement at a time, like one ClickHouse session (USE is per session).
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };

  const server = Bun.serve({
    port,
    hostname: "127.0.0.1",
    // Never close an idle keep-alive socket under the client (ClickHouse keeps them 10 s; the
    // client would otherwise race a close with its next query).
    idleTimeout: 0,
    error(err) {
      if (process.env.CHDB_HTTP_DEBUG) console.error(`[chdb-http] unhandled: ${err.message}`);
      return fail(err);
    },
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === "/ping") return new Response("Ok.\n");
      if (url.pathname !== "/") return new Response("Not found", { status: 404 });
      const body = req.method === "POST" ? await req.text() : "";
      const inUrl = url.searchParams.get("query");
      const params: Record<string, string> = {};
      const settings: Record<string, string> = {};
      for (const [k, v] of url.searchParams) {
        if (k.startsWith("param_")) params[k.slice(6)] = v;
        else if (SETTINGS_PASSED_TO_INSERT.has(k)) settings[k] = v;
      }
      return serial(async () => {
        try {
          await useDatabase(url.searchParams.get("database"));
          const insert = inUrl ? /^\s*INSERT\s+INTO\s+([A-Za-z0-9_.`]+)(?:\s*\([^)]*\))?\s+FORMAT\s+(\w+)\s*$/i.exec(inUrl) : null;
          if (insert) {
            await session.insert({ table: insert[1]!.replace(/`/g, ""), values: Buffer.from(body), format: insert[2]!, ...(Object.keys(settings).length ? { settings } : {}) } as never);
            return new Response("", { headers: { "x-clickhouse-summary": "{}" } });
          }
          const sql = inUrl ? `${inUrl}${body ? `\n${body}` : ""}` : body;
          const result = Object.keys(params).length ? await session.queryBindAsync(sql, params) : await session.queryAsync(sql);
          return new Response(result.text(), { headers: { "content-type": "text/plain; charset=UTF-8", "x-clickhouse-summary": "{}" } });
        } catch (err) {
          if (process.env.CHDB_HTTP_DEBUG) console.error(`[chdb-http] ${inUrl ?? ""} ${body.slice(0, 300)} → ${(err as Error).message}`);
          return fail(err);
        }
      });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    async close() {
      server.stop(true);
      session.close();
      await drainPending();
    },
  };
}

if (import.meta.main) {
  const [dir, port] = process.argv.slice(2);
  if (!dir) throw new Error("usage: bun test/helpers/chdb-http-server.ts <dataDir> [port]");
  const s = startChdbHttpServer(dir, Number(port ?? 0));
  console.log(`ready ${new URL(s.url).port}`);
  const stop = async () => {
    await s.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
