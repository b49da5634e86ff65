/**
 * The console's only way to the gateway: the public HTTP API, with the key the operator typed
 * (kept in this tab's session storage). Every non-2xx answer becomes an `ApiError` carrying the
 * API's own `message`, `code` and `param`, which forms show as they are.
 */
const STORAGE_KEY = "tollgate.console.key";
/** The usage page (the former dashboard) reads its key from here: one sign-in for both. */
const USAGE_STORAGE_KEY = "tollgate.dashboard.key";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly param?: string,
  ) {
    super(message);
  }
}

export function storedKey(): string {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? "";
  } catch {
    return memoryKey;
  }
}

let memoryKey = "";
export function storeKey(key: string): void {
  memoryKey = key;
  try {
    if (key) {
      sessionStorage.setItem(STORAGE_KEY, key);
      sessionStorage.setItem(USAGE_STORAGE_KEY, key);
    } else {
      sessionStorage.removeItem(STORAGE_KEY);
      sessionStorage.removeItem(USAGE_STORAGE_KEY);
    }
  } catch {
    // storage off: the key lives until the page closes
  }
}

export type Query = Record<string, string | number | boolean | undefined>;

export async function api<T = unknown>(method: string, path: string, body?: unknown, query?: Query, key = storedKey()): Promise<T> {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
  const headers: Record<string, string> = { accept: "application/json" };
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(url, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch (err) {
    throw new ApiError(0, "network_error", `The gateway did not answer (${(err as Error).message})`);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json as { error?: { message?: string; code?: string; param?: string } } | undefined)?.error;
    throw new ApiError(res.status, e?.code ?? `http_${res.status}`, e?.message ?? `HTTP ${res.status}`, e?.param ?? undefined);
  }
  return json as T;
}

export const get = <T = unknown>(path: string, query?: Query) => api<T>("GET", path, undefined, query);

/** Who the key is: the admin (everything) or a virtual key (its tenant, read-only). */
export interface Identity {
  kind: "admin" | "tenant";
  tenant?: string;
  keyId?: string;
  role?: string;
}

export async function whoAmI(key: string): Promise<Identity> {
  try {
    await api("GET", "/api/v1/admin/config", undefined, undefined, key);
    return { kind: "admin", role: "owner" };
  } catch (err) {
    if (!(err instanceof ApiError) || (err.status !== 401 && err.status !== 403)) throw err;
  }
  const self = await api<{ tenant_id?: string; tenant?: string; id?: string; key_id?: string }>("GET", "/api/v1/keys/self", undefined, undefined, key);
  return { kind: "tenant", tenant: self.tenant_id ?? self.tenant ?? "", keyId: self.key_id ?? self.id ?? "" };
}
