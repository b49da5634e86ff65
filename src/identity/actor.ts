/**
 * The actor of an admin request — who (identity id, name, role, tenant), with which credential
 * (key id or token subject), from where (source IP, user agent) and which request — carried
 * from the admin check to the config service without changing every handler's signature:
 * the HTTP layer remembers the source IP and parsed body per Request, and the admin check runs
 * the handler inside an AsyncLocalStorage scope that ConfigService.execute reads.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Role } from "./entities.ts";

export interface AdminIdentity {
  /** `bootstrap` (TOLLGATE_ADMIN_KEY), `loopback` (first-run), or an `adm_…` id. */
  id: string;
  name: string;
  role: Role;
  tenant?: string;
  /** The admin key's id/prefix, or a token subject: never the secret. */
  credential: string;
}

export interface Actor extends AdminIdentity {
  ip: string | null;
  userAgent: string | null;
  requestId: string;
}

/** The actor as recorded in an event payload (snake_case, like the API). */
export function actorRecord(a: Actor): Record<string, unknown> {
  return { id: a.id, name: a.name, role: a.role, ...(a.tenant ? { tenant: a.tenant } : {}), credential: a.credential, ip: a.ip, user_agent: a.userAgent, request_id: a.requestId };
}

const als = new AsyncLocalStorage<Actor>();
const ips = new WeakMap<Request, string>();
const bodies = new WeakMap<Request, unknown>();
const actors = new WeakMap<Request, Actor>();

/** Bun.serve's fetch: remember the peer address of a request (read by the admin check). */
export function rememberSourceIp(request: Request, ip: string | undefined): void {
  if (ip) ips.set(request, ip);
}
export function sourceIpOf(request: Request): string | null {
  return ips.get(request) ?? null;
}
/** The app's body parser: remember the parsed body (a tenant named in the body is scoped by it). */
export function rememberBody(request: Request, body: unknown): void {
  if (body !== undefined) bodies.set(request, body);
}
export function bodyOf(request: Request): unknown {
  return bodies.get(request);
}

/** Make `actor` the current one for the rest of this request's async flow. */
export function enterActor(request: Request, actor: Actor): void {
  actors.set(request, actor);
  als.enterWith(actor);
}
export function runAsActor<T>(actor: Actor, fn: () => T): T {
  return als.run(actor, fn);
}
/** The actor of the admin request being handled (undefined outside one). */
export function currentActor(): Actor | undefined {
  return als.getStore();
}
/** The actor the admin check found for this request. */
export function actorOf(request: Request): Actor | undefined {
  return actors.get(request);
}
