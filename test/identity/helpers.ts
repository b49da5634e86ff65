/** Shared set-up for identity tests: admin calls with a credential, named admins. */
export const OWNER_KEY = "identity-test-owner-key-0123456789";

export function adminCall(url: string, key: string | undefined, headers: Record<string, string> = {}) {
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: Record<string, any> = {};
    try {
      json = JSON.parse(text);
    } catch {}
    return { status: res.status, body: json };
  };
}

/** Create a named admin through the API (as the owner); returns its id and key. */
export async function createAdmin(url: string, name: string, role: string, tenant?: string): Promise<{ id: string; key: string }> {
  const r = await adminCall(url, OWNER_KEY)("POST", "/api/v1/admin/admins", { name, role, ...(tenant ? { tenant } : {}) });
  if (r.status !== 201) throw new Error(`create admin ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  return { id: r.body.id, key: r.body.key };
}
