/**
 * The embedded analytics engine's own process: a chDB store served over Bun's IPC channel to the
 * gateway (`ProcessAnalyticsStore`). The ClickHouse engine, its memory and its threads live here,
 * not in the gateway process: the request thread never runs analytics work.
 *
 * Started by `ProcessAnalyticsStore.open(dir)`:  bun src/analytics/store-process.ts <dir> <database>
 * It answers one message first: `{ ready: true }`, or `{ ready: false, error }` if chDB cannot open
 * the directory. Then each request `{ id, op, args }` gets `{ id, ok, value }` or `{ id, ok: false, error }`.
 * It exits when its parent closes the channel (a gateway that dies never leaves it behind).
 */
import { ChdbAnalyticsStore } from "./chdb-store.ts";
import { FramedProgress, projectFramed } from "./framed-projection.ts";
import type { AnalyticsParams } from "./store.ts";
import type { StoreReply, StoreRequest } from "./store-protocol.ts";

const [dir, database] = process.argv.slice(2);
const send = (m: StoreReply | { ready: boolean; error?: string }) => process.send?.(m);

let store: ChdbAnalyticsStore | undefined;
try {
  if (!dir) throw new Error("usage: store-process.ts <dir> [database]");
  store = await ChdbAnalyticsStore.open(dir, database ? { database } : {});
  send({ ready: true });
} catch (err) {
  send({ ready: false, error: (err as Error).message });
  process.exit(1);
}
const s = store;
/** How far this process's writes reached (framed-projection.ts: skips a lookup that cannot find anything). */
const progress = new FramedProgress();

async function run(req: StoreRequest): Promise<unknown> {
  switch (req.op) {
    case "migrate":
      return s.migrate();
    case "insertRows":
      return s.insertRows(req.args[0], req.args[1], req.args[2], req.args[3]);
    case "query":
      return s.query(req.args[0], req.args[1] as AnalyticsParams | undefined);
    case "exec":
      return s.exec(req.args[0], req.args[1] as AnalyticsParams | undefined);
    case "projectFramed":
      return projectFramed(s, req.args[0], progress);
    case "drop":
      return s.drop();
    case "health":
      return s.health();
    case "memory":
      return process.memoryUsage().rss;
    case "close":
      await s.close();
      setTimeout(() => process.exit(0), 0);
      return undefined;
  }
}

process.on("message", (req: StoreRequest) => {
  run(req).then(
    (value) => send({ id: req.id, ok: true, value }),
    (err) => send({ id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
process.on("disconnect", () => {
  void s.close().finally(() => process.exit(0));
});
