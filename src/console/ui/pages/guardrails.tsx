/** Guardrails: type × action matrix (global and per tenant), blocklists, and a dry-run "try a sentence" box. */
import { useState } from "preact/hooks";
import { api, get } from "../api.ts";
import { ErrorBox, Form, Page, Table, useLoad } from "../components.tsx";
import type { PageProps } from "./index.ts";

const TYPES = ["email", "phone", "card", "iban", "ssn", "ip", "vn_id", "secret"] as const;
const ACTIONS = ["off", "log", "redact", "restore", "block"] as const;

interface View {
  id: string;
  configured: { pii?: { action?: string; types?: string[]; actions?: Record<string, string> }; blocklist?: Array<{ pattern: string; kind?: string; action?: string; direction?: string }>; max_input_chars?: number; fail_mode?: string } | null;
  effective: { pii?: { action: string; types: string[]; actions: Record<string, string> }; blocklist?: Array<{ pattern: string; kind?: string; action?: string; direction?: string }> };
  version: number;
}
interface DryRun {
  text: string;
  blocked: boolean;
  blocked_types: string[];
  detected: Record<string, number>;
  redacted: Record<string, number>;
}

const effectiveAction = (v: View | undefined, t: string) => {
  const p = v?.effective.pii;
  if (!p) return "off";
  return p.actions?.[t] ?? (p.types?.includes(t) ? p.action : "off");
};

function Matrix({ tenant }: { tenant: string }) {
  const path = tenant ? `/api/v1/admin/tenants/${encodeURIComponent(tenant)}/guardrails` : "/api/v1/admin/guardrails";
  const view = useLoad(() => get<View>(path), [path]);
  const [error, setError] = useState<Error | undefined>();
  const v = view.data;
  const put = async (actions: Record<string, string>, blocklist = v?.configured?.blocklist) => {
    setError(undefined);
    try {
      await api("PUT", path, { ...(v?.configured ?? {}), pii: { ...(v?.configured?.pii ?? {}), actions }, ...(blocklist ? { blocklist } : {}) });
      view.reload();
    } catch (e) {
      setError(e as Error);
    }
  };
  return (
    <div class="panel" data-scope={tenant || "global"}>
      <ErrorBox error={view.error} />
      <ErrorBox error={error as never} />
      <div class="table-wrap">
        <table aria-label={`Guardrail actions ${tenant ? `of tenant ${tenant}` : "(global)"}`} class="matrix">
          <thead>
            <tr>
              <th scope="col">Type</th>
              {ACTIONS.map((a) => <th key={a} scope="col">{a}</th>)}
            </tr>
          </thead>
          <tbody>
            {TYPES.map((t) => (
              <tr key={t}>
                <th scope="row">{t}</th>
                {ACTIONS.map((a) => (
                  <td key={a}>
                    <input
                      type="radio"
                      name={`${tenant || "global"}-${t}`}
                      aria-label={`${t}: ${a}`}
                      checked={effectiveAction(v, t) === a}
                      onChange={() => put({ ...(v?.configured?.pii?.actions ?? {}), [t]: a })}
                    />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h3>Blocklist</h3>
      <Table
        label="Blocklist rules"
        rows={v?.configured?.blocklist ?? []}
        rowKey={(r) => r.pattern}
        columns={[
          { label: "Pattern", cell: (r) => r.pattern },
          { label: "Kind", cell: (r) => r.kind ?? "term" },
          { label: "Action", cell: (r) => r.action ?? "block" },
          { label: "Direction", cell: (r) => r.direction ?? "input" },
          { label: "", cell: (r) => <button type="button" onClick={() => put(v?.configured?.pii?.actions ?? {}, (v?.configured?.blocklist ?? []).filter((x) => x !== r))}>Remove</button> },
        ]}
        empty="No blocklist rules."
      />
      <Form
        id={`blocklist-${tenant || "global"}`}
        fields={[
          { name: "pattern", label: "Term or regex", required: true },
          { name: "kind", label: "Kind", type: "select", options: ["term", "regex"] },
          { name: "action", label: "Action", type: "select", options: ["block", "redact"] },
          { name: "direction", label: "Direction", type: "select", options: ["input", "output", "both"] },
        ]}
        initial={{ kind: "term", action: "block", direction: "input" }}
        label="Add rule"
        submit={async (x) => {
          await api("PUT", path, { ...(v?.configured ?? {}), blocklist: [...(v?.configured?.blocklist ?? []), { pattern: x.pattern, kind: x.kind, action: x.action, direction: x.direction }] });
          view.reload();
        }}
      />
    </div>
  );
}

function TryIt({ tenant }: { tenant: string }) {
  const [result, setResult] = useState<DryRun | undefined>();
  return (
    <div class="panel">
      <h2>Try a sentence</h2>
      <p class="intro">Runs the effective policy{tenant ? ` of tenant ${tenant}` : ""} on your text. Nothing is recorded: no event, no log, no metric.</p>
      <Form id="guardrails-try" fields={[{ name: "text", label: "Sentence", type: "textarea", required: true }]} label="Try" submit={async (v) => setResult(await api<DryRun>("POST", "/api/v1/admin/guardrails/test", { text: v.text, ...(tenant ? { tenant } : {}) }))} />
      {result ? (
        <div class="dry-run" data-blocked={String(result.blocked)}>
          <p>{result.blocked ? `Blocked (${result.blocked_types.join(", ")})` : "A provider would receive:"}</p>
          <pre id="dry-run-text">{result.text}</pre>
          <p>Detected: {Object.entries(result.detected).map(([k, n]) => `${k} ×${n}`).join(", ") || "nothing"} · redacted: {Object.entries(result.redacted).map(([k, n]) => `${k} ×${n}`).join(", ") || "nothing"}</p>
        </div>
      ) : null}
    </div>
  );
}

export function GuardrailsPage(_: PageProps) {
  const [tenant, setTenant] = useState("");
  return (
    <Page title="Guardrails" intro="PII actions per type: off, log (event only), redact (placeholders), restore (placeholders, originals put back in the answer), block. A tenant's settings override the global ones.">
      <label for="guardrails-tenant">Scope: tenant id (empty: global)</label>
      <input id="guardrails-tenant" value={tenant} onChange={(e) => setTenant((e.currentTarget as HTMLInputElement).value.trim())} placeholder="global" />
      <Matrix key={tenant} tenant={tenant} />
      <TryIt tenant={tenant} />
    </Page>
  );
}
