/**
 * Prints `{ "<request id>": <distinct request.completed events> }` from an embedded analytics
 * (chDB) directory. Run as its own process (chDB holds one data directory per process):
 *   bun test/helpers/usage-ids.ts <analytics dir>
 */
import { ChdbAnalyticsStore } from "../../src/analytics/chdb-store.ts";

const dir = process.argv[2];
if (!dir) throw new Error("usage: bun test/helpers/usage-ids.ts <analytics dir>");
const store = await ChdbAnalyticsStore.open(dir);
const rows = await store.query<{ request_id: string; n: number | string }>("SELECT request_id, uniqExact(event_id) AS n FROM usage_events GROUP BY request_id");
await store.close();
process.stdout.write(JSON.stringify(Object.fromEntries(rows.map((r) => [r.request_id, Number(r.n)]))));
