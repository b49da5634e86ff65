/**
 * Stored Responses API conversations: one StateStore string per response under
 * `responses:{tenant}:{id}` with the operator's TTL (`TOLLGATE_RESPONSES_TTL_SECONDS`).
 *
 * A record holds the Response, this turn's input items and the conversation before it
 * (`history`: the inputs and outputs of earlier turns), so `previous_response_id` needs one
 * read. The tenant is part of the key: another tenant's id is simply not found (404).
 * This is the only place the gateway keeps conversation text; events never carry it.
 */
import type { ResponseItem, ResponseObject } from "../canonical/responses.ts";
import type { StateStore } from "../stores/state-store.ts";

export interface StoredResponse {
  response: ResponseObject;
  /** This turn's input items (ids assigned). */
  input: ResponseItem[];
  /** The conversation before this turn (earlier inputs and outputs, in order). */
  history: ResponseItem[];
}

const PREFIX = "responses:";
const tenantPrefix = (tenant: string) => `${PREFIX}${encodeURIComponent(tenant)}:`;
const keyOf = (tenant: string, id: string) => `${tenantPrefix(tenant)}${id}`;

export class ResponsesStore {
  constructor(
    private readonly store: StateStore,
    private readonly ttlMs: number,
  ) {}

  async get(tenant: string, id: string): Promise<StoredResponse | null> {
    const raw = await this.store.get(keyOf(tenant, id));
    return raw === null ? null : (JSON.parse(raw) as StoredResponse);
  }

  async put(tenant: string, record: StoredResponse): Promise<void> {
    await this.store.set(keyOf(tenant, record.response.id), JSON.stringify(record), { ttlMs: this.ttlMs });
  }

  /** Whether it existed. */
  async delete(tenant: string, id: string): Promise<boolean> {
    const key = keyOf(tenant, id);
    if ((await this.store.get(key)) === null) return false;
    await this.store.del(key);
    return true;
  }

  /** Erase every stored response of a tenant; returns how many. */
  purge(tenant: string): Promise<number> {
    return this.store.deletePrefix(tenantPrefix(tenant));
  }
}

/** The conversation a follow-up continues from: earlier turns, this input, this output. */
export function conversationOf(record: StoredResponse): ResponseItem[] {
  return [...record.history, ...record.input, ...record.response.output];
}
