/** Config history: who, when, what; a diff between two versions; the config as of a version. */
import { useState } from "preact/hooks";
import { get } from "../api.ts";
import { ErrorBox, Page, Table, useLoad } from "../components.tsx";
import type { PageProps } from "./index.ts";

interface Entry {
  position: number;
  time: string;
  actor: string | Record<string, unknown>;
  type: string;
  kind: string;
  id: string;
  version: number;
  changes?: Record<string, unknown>;
  fields?: Record<string, unknown>;
}
type ConfigView = Record<string, unknown>;

const actorName = (a: Entry["actor"]) => (typeof a === "string" ? a : String(a.name ?? a.id ?? JSON.stringify(a)));

/** Pure: the entities that differ between two config views, as lines "kind id: before → after". */
export function diffConfig(a: ConfigView, b: ConfigView): Array<{ what: string; before: string; after: string }> {
  const out: Array<{ what: string; before: string; after: string }> = [];
  const kinds = new Set([...Object.keys(a), ...Object.keys(b)].filter((k) => k !== "config_version" && k !== "at"));
  for (const kind of kinds) {
    const ea = index(a[kind]);
    const eb = index(b[kind]);
    for (const id of new Set([...ea.keys(), ...eb.keys()])) {
      const x = ea.get(id);
      const y = eb.get(id);
      const sx = x === undefined ? "" : JSON.stringify(strip(x));
      const sy = y === undefined ? "" : JSON.stringify(strip(y));
      if (sx !== sy) out.push({ what: `${kind} ${id}`, before: sx || "(absent)", after: sy || "(absent)" });
    }
  }
  return out;
}

function index(v: unknown): Map<string, unknown> {
  const m = new Map<string, unknown>();
  if (Array.isArray(v)) for (const e of v) m.set(String((e as { id?: unknown }).id ?? JSON.stringify(e)), e);
  else if (v && typeof v === "object") for (const [k, e] of Object.entries(v)) m.set(k, e);
  return m;
}
function strip(e: unknown): unknown {
  if (!e || typeof e !== "object") return e;
  const { version: _v, updated_at: _u, updated_by: _b, ...rest } = e as Record<string, unknown>;
  return rest;
}

export function HistoryPage(_: PageProps) {
  const history = useLoad(() => get<{ data: Entry[] }>("/api/v1/admin/config/history", { limit: 500 }), []);
  const [from, setFrom] = useState<Entry | undefined>();
  const [to, setTo] = useState<Entry | undefined>();
  const [asOf, setAsOf] = useState<Entry | undefined>();
  const entries = [...(history.data?.data ?? [])].reverse();
  const diff = useLoad(async () => {
    if (!from || !to) return undefined;
    const [a, b] = await Promise.all([get<ConfigView>("/api/v1/admin/config", { at: from.time }), get<ConfigView>("/api/v1/admin/config", { at: to.time })]);
    return diffConfig(a, b);
  }, [from?.position, to?.position]);
  const view = useLoad(async () => (asOf ? get<ConfigView>("/api/v1/admin/config", { at: asOf.time }) : undefined), [asOf?.position]);
  return (
    <Page title="Config history" intro="Every change is an event: pick two entries to diff the configuration between them, or view the configuration as it was after one.">
      <ErrorBox error={history.error} />
      <Table<Entry>
        label="Config history"
        rows={entries}
        rowKey={(e) => String(e.position)}
        columns={[
          { label: "When", cell: (e) => new Date(e.time).toLocaleString() },
          { label: "Who", cell: (e) => actorName(e.actor) },
          { label: "What", cell: (e) => `${e.type} ${e.kind} ${e.id} (v${e.version})` },
          { label: "Change", cell: (e) => <code class="change">{JSON.stringify(e.changes ?? e.fields ?? {})}</code> },
          {
            label: "Compare",
            cell: (e) => (
              <span class="row-actions">
                <button type="button" aria-pressed={from?.position === e.position} onClick={() => setFrom(e)}>From</button>
                <button type="button" aria-pressed={to?.position === e.position} onClick={() => setTo(e)}>To</button>
                <button type="button" onClick={() => setAsOf(e)}>As of</button>
              </span>
            ),
          },
        ]}
        empty="No changes yet."
      />
      {from && to ? (
        <div class="panel" id="diff">
          <h2>Changes from #{from.position} to #{to.position}</h2>
          <ErrorBox error={diff.error} />
          <Table label="Diff" rows={diff.data ?? []} rowKey={(d) => d.what} columns={[{ label: "Entity", cell: (d) => d.what }, { label: "Before", cell: (d) => <code>{d.before}</code> }, { label: "After", cell: (d) => <code>{d.after}</code> }]} empty="No difference." />
        </div>
      ) : null}
      {asOf ? (
        <div class="panel" id="as-of">
          <h2>The configuration as of #{asOf.position} ({asOf.time})</h2>
          <ErrorBox error={view.error} />
          <pre>{view.data ? JSON.stringify(view.data, null, 2) : "…"}</pre>
        </div>
      ) : null}
    </Page>
  );
}
