/**
 * One collection of config entities (providers, aliases, routes, prices, overrides, tenants…):
 * the list, a create form, and per row an edit form and delete — all through the entity's own
 * admin routes. The API validates; the form shows its message and marks the field it names.
 */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { api, get } from "../api.ts";
import { ActionButton, clean, type Column, ErrorBox, type FieldSpec, Form, type FormValues, Table, useLoad } from "../components.tsx";

export interface EntityPageSpec<R extends { id: string }> {
  /** Collection URL, e.g. /api/v1/providers */
  base: string;
  /** Singular noun for buttons: "provider" */
  noun: string;
  columns: Column<R>[];
  /** Create form fields, and their starting values. */
  create: FieldSpec[];
  createInitial?: FormValues;
  /** Edit form fields (default: `create` without `id`). */
  edit?: FieldSpec[];
  numeric?: string[];
  json?: string[];
  /** Form values → request body (default: clean()). */
  toBody?: (v: FormValues, mode: "create" | "edit") => Record<string, unknown>;
  /** Row → edit form's initial values. */
  toForm?: (r: R) => FormValues;
  rowActions?: (r: R, reload: () => void) => ComponentChildren;
  readOnly?: boolean;
  /** id used in element ids */
  slug: string;
  empty?: string;
  /** Update method (PATCH for most entities). */
  updateMethod?: "PATCH" | "PUT";
  noEdit?: boolean;
}

export function EntityCollection<R extends { id: string }>({ spec }: { spec: EntityPageSpec<R> }) {
  const list = useLoad(() => get<{ data: R[] }>(spec.base), [spec.base]);
  const [editing, setEditing] = useState<string | undefined>();
  const body = (v: FormValues, mode: "create" | "edit") => (spec.toBody ? spec.toBody(v, mode) : clean(v, spec.numeric, spec.json));
  const rows = list.data?.data ?? [];
  const editFields = spec.edit ?? spec.create.filter((f) => f.name !== "id");
  const columns: Column<R>[] = [
    ...spec.columns,
    ...(spec.readOnly
      ? []
      : [
          {
            label: "Actions",
            cell: (r: R) => (
              <span class="row-actions">
                {spec.rowActions?.(r, list.reload)}
                {spec.noEdit ? null : (
                  <button type="button" onClick={() => setEditing(editing === r.id ? undefined : r.id)} aria-expanded={editing === r.id}>
                    Edit
                  </button>
                )}
                <ActionButton label="Delete" kind="danger" confirmText={`Delete ${spec.noun} ${r.id}?`} act={() => api("DELETE", `${spec.base}/${encodeURIComponent(r.id)}`)} onDone={list.reload} />
              </span>
            ),
          },
        ]),
  ];
  const current = rows.find((r) => r.id === editing);
  return (
    <div class="collection" data-collection={spec.slug}>
      <ErrorBox error={list.error} />
      <Table label={`${spec.noun}s`} rows={rows} columns={columns} rowKey={(r) => r.id} empty={spec.empty} />
      {current && !spec.readOnly ? (
        <details open class="panel">
          <summary>Edit {spec.noun} {current.id}</summary>
          <Form
            id={`${spec.slug}-edit`}
            fields={editFields}
            initial={spec.toForm ? spec.toForm(current) : undefined}
            label="Save"
            submit={(v) => api(spec.updateMethod ?? "PATCH", `${spec.base}/${encodeURIComponent(current.id)}`, body(v, "edit"))}
            onDone={() => {
              setEditing(undefined);
              list.reload();
            }}
          />
        </details>
      ) : null}
      {spec.readOnly ? null : (
        <details class="panel" open={rows.length === 0}>
          <summary>Add a {spec.noun}</summary>
          <Form id={`${spec.slug}-create`} fields={spec.create} initial={spec.createInitial} label={`Create ${spec.noun}`} submit={(v) => api("POST", spec.base, body(v, "create"))} onDone={list.reload} />
        </details>
      )}
    </div>
  );
}
