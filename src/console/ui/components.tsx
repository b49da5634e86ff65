/**
 * The console's small component library. Everything is rendered as text by Preact (no raw HTML
 * anywhere), so names, models, tenants and plugin messages can never inject markup.
 */
import type { ComponentChildren, JSX } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api.ts";

/** Loads `fn` now and whenever `deps` change; `every` ms re-polls (live pages). */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[], every?: number): { data?: T; error?: ApiError; reload: () => void; loading: boolean } {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const live = useRef(true);
  useEffect(() => {
    live.current = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = () => {
      fn().then(
        (data) => live.current && setState({ data, loading: false }),
        (error: unknown) => live.current && setState((s) => ({ ...s, error: asApiError(error), loading: false })),
      ).finally(() => {
        if (every && live.current) timer = setTimeout(run, every);
      });
    };
    run();
    return () => {
      live.current = false;
      if (timer) clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { ...state, reload: useCallback(() => setTick((t) => t + 1), []) };
}

export const asApiError = (e: unknown): ApiError => (e instanceof ApiError ? e : new ApiError(0, "console_error", e instanceof Error ? e.message : String(e)));

export function ErrorBox({ error }: { error?: ApiError | undefined }) {
  if (!error) return null;
  return (
    <p class="error" role="alert" data-code={error.code}>
      {error.message} <code>{error.code}</code>
      {error.param ? <span> (field <code>{error.param}</code>)</span> : null}
    </p>
  );
}

export function Page({ title, intro, children, actions }: { title: string; intro?: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-head">
        <h1 id="page-title">{title}</h1>
        {actions ? <div class="page-actions">{actions}</div> : null}
      </header>
      {intro ? <p class="intro">{intro}</p> : null}
      {children}
    </section>
  );
}

export interface FieldSpec {
  name: string;
  label: string;
  type?: "text" | "number" | "password" | "select" | "checkbox" | "textarea" | "json";
  options?: readonly string[];
  placeholder?: string;
  required?: boolean;
  help?: string;
}

export type FormValues = Record<string, string | boolean>;

/**
 * A form over `fields`. `submit` receives the raw values; whatever it throws is shown as the API
 * said it, and the field named by the error's `param` is marked invalid and focused.
 */
export function Form({ id, fields, initial, submit, label, onDone }: { id: string; fields: FieldSpec[]; initial?: FormValues; submit: (v: FormValues) => Promise<unknown>; label: string; onDone?: (result: unknown) => void }) {
  const [values, setValues] = useState<FormValues>(initial ?? {});
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const ref = useRef<HTMLFormElement>(null);
  useEffect(() => setValues(initial ?? {}), [JSON.stringify(initial ?? {})]);
  const bad = error?.param ? paramField(error.param, fields) : undefined;
  useEffect(() => {
    if (bad) ref.current?.querySelector<HTMLElement>(`[name="${bad}"]`)?.focus();
  }, [bad, error]);
  const onSubmit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const r = await submit(values);
      onDone?.(r);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form id={id} class="form" ref={ref} onSubmit={onSubmit} noValidate>
      {fields.map((f) => (
        <Field key={f.name} spec={f} formId={id} value={values[f.name]} invalid={bad === f.name} onInput={(v) => setValues((s) => ({ ...s, [f.name]: v }))} />
      ))}
      <ErrorBox error={error} />
      <div class="form-actions">
        <button type="submit" disabled={busy}>{busy ? "…" : label}</button>
      </div>
    </form>
  );
}

/** The form field an error's `param` names (`budget.amount_usd` → `budget.amount_usd`, else its first segment). */
function paramField(param: string, fields: FieldSpec[]): string | undefined {
  const p = param.replace(/^\/|^body\.?/, "").replace(/\//g, ".");
  if (fields.some((f) => f.name === p)) return p;
  const first = p.split(/[.[]/)[0];
  return fields.find((f) => f.name === first || f.name.startsWith(`${first}.`))?.name;
}

function Field({ spec, formId, value, invalid, onInput }: { spec: FieldSpec; formId: string; value: string | boolean | undefined; invalid: boolean; onInput: (v: string | boolean) => void }) {
  const id = `${formId}-${spec.name.replace(/\W/g, "-")}`;
  const common = { id, name: spec.name, "aria-invalid": invalid ? ("true" as const) : undefined, class: invalid ? "invalid" : undefined };
  let input: JSX.Element;
  if (spec.type === "checkbox") {
    input = <input {...common} type="checkbox" checked={value === true} onChange={(e) => onInput((e.currentTarget as HTMLInputElement).checked)} />;
  } else if (spec.type === "select") {
    input = (
      <select {...common} value={String(value ?? "")} onChange={(e) => onInput((e.currentTarget as HTMLSelectElement).value)}>
        {(spec.options ?? []).map((o) => (
          <option key={o} value={o}>{o === "" ? "—" : o}</option>
        ))}
      </select>
    );
  } else if (spec.type === "textarea" || spec.type === "json") {
    input = <textarea {...common} rows={spec.type === "json" ? 6 : 3} spellcheck={false} placeholder={spec.placeholder} value={String(value ?? "")} onInput={(e) => onInput((e.currentTarget as HTMLTextAreaElement).value)} />;
  } else {
    input = <input {...common} type={(spec.type ?? "text") as "text"} autocomplete="off" spellcheck={false} placeholder={spec.placeholder} value={String(value ?? "")} onInput={(e) => onInput((e.currentTarget as HTMLInputElement).value)} />;
  }
  return (
    <div class={`field${spec.type === "checkbox" ? " check" : ""}`}>
      <label for={id}>{spec.label}{spec.required ? " *" : ""}</label>
      {input}
      {spec.help ? <small>{spec.help}</small> : null}
    </div>
  );
}

export interface Column<R> {
  label: string;
  cell: (row: R) => ComponentChildren;
}

export function Table<R>({ rows, columns, empty, label, rowKey }: { rows: R[]; columns: Column<R>[]; empty?: string; label: string; rowKey: (r: R) => string }) {
  if (!rows.length) return <p class="empty">{empty ?? "Nothing yet."}</p>;
  return (
    <div class="table-wrap">
      <table aria-label={label}>
        <thead>
          <tr>{columns.map((c) => <th key={c.label} scope="col">{c.label}</th>)}</tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={rowKey(r)} data-row={rowKey(r)}>{columns.map((c) => <td key={c.label}>{c.cell(r)}</td>)}</tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** spent / limit as a bar with the numbers in text (the bar is decoration: the text says it all). */
export function BudgetBar({ spent, limit, label }: { spent: number; limit: number; label: string }) {
  const pct = limit > 0 ? Math.min(100, (spent / limit) * 100) : 0;
  return (
    <div class="budget" aria-label={label}>
      <div class="budget-bar" data-level={pct >= 100 ? "full" : pct >= 80 ? "high" : "ok"}>
        <span class={`w${Math.round(pct / 5) * 5}`} />
      </div>
      <small>
        {usd(spent)} of {usd(limit)} spent · {usd(Math.max(0, limit - spent))} left
      </small>
    </div>
  );
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="copy"
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          setDone(true);
        } catch {
          setDone(false);
        }
      }}
    >
      {done ? "Copied" : label}
    </button>
  );
}

/** A confirm-then-act button (delete, revoke): the API's error is shown next to it. */
export function ActionButton({ label, act, confirmText, onDone, kind }: { label: string; act: () => Promise<unknown>; confirmText?: string; onDone?: () => void; kind?: "danger" }) {
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  return (
    <span class="action">
      <button
        type="button"
        class={kind}
        disabled={busy}
        onClick={async () => {
          if (confirmText && !confirm(confirmText)) return;
          setBusy(true);
          setError(undefined);
          try {
            await act();
            onDone?.();
          } catch (err) {
            setError(asApiError(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        {label}
      </button>
      <ErrorBox error={error} />
    </span>
  );
}

export function Stat({ label, value, id }: { label: string; value: ComponentChildren; id: string }) {
  return (
    <div class="stat" data-stat={id}>
      <span class="stat-label">{label}</span>
      <span class="stat-value">{value}</span>
    </div>
  );
}

export const usd = (n: number | null | undefined) => (n == null || Number.isNaN(n) ? "–" : `$${n < 0.01 && n > 0 ? n.toPrecision(2) : n.toFixed(n >= 100 ? 0 : 2)}`);
export const num = (n: number | null | undefined) => (n == null ? "–" : n.toLocaleString("en-US"));
export const ms = (n: number | null | undefined) => (n == null ? "–" : n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${Math.round(n)} ms`);
export const pct = (n: number | null | undefined) => (n == null ? "–" : `${(n * 100).toFixed(1)}%`);

/** Drops empty strings; turns numeric strings of numeric fields into numbers. */
export function clean(v: FormValues, numeric: string[] = [], json: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === "" || x === undefined) continue;
    if (numeric.includes(k) && typeof x === "string") out[k] = Number(x);
    else if (json.includes(k) && typeof x === "string") {
      try {
        out[k] = JSON.parse(x);
      } catch {
        throw new ApiError(400, "invalid_json", `${k}: not valid JSON`, k);
      }
    } else out[k] = x;
  }
  return out;
}
