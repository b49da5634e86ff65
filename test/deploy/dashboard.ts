/** The parts of a Grafana dashboard JSON the deploy tests read, and every SQL query in it. */

export interface DataSourceRef {
  type?: string;
  uid?: string;
}

export interface Target {
  refId: string;
  datasource?: DataSourceRef;
  editorType?: string;
  /** 0 = time series, 1 = table (sqlutil.FormatQueryOption). */
  format?: number;
  rawSql: string;
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: DataSourceRef;
  /** Min interval (`1h`): the plugin's `$__timeInterval` never goes below it. */
  interval?: string;
  targets?: Target[];
  panels?: Panel[];
}

export interface Variable {
  name: string;
  type: string;
  datasource?: DataSourceRef;
  definition?: string;
  query?: string | { rawSql?: string };
}

export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating?: { list: Variable[] };
}

export interface DashboardQuery {
  kind: "panel" | "variable";
  /** Where it comes from, for messages. */
  where: string;
  sql: string;
  datasource: DataSourceRef | undefined;
  format: number | undefined;
  panel: Panel | undefined;
}

/** Every SQL query: each target of each panel (rows included) and each query variable. */
export function dashboardQueries(d: Dashboard): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  const walk = (panels: Panel[]): void => {
    for (const p of panels) {
      if (p.panels) walk(p.panels);
      for (const t of p.targets ?? []) {
        out.push({ kind: "panel", where: `panel ${p.id} "${p.title}" target ${t.refId}`, sql: t.rawSql, datasource: t.datasource, format: t.format, panel: p });
      }
    }
  };
  walk(d.panels);
  for (const v of d.templating?.list ?? []) {
    if (v.type !== "query") continue;
    const sql = typeof v.query === "string" ? v.query : (v.query?.rawSql ?? "");
    out.push({ kind: "variable", where: `variable ${v.name}`, sql, datasource: v.datasource, format: 1, panel: undefined });
  }
  return out;
}
