/**
 * Stored Responses API conversations: one StateStore string per response under
 * `responses:{tenant}:{id}` with the operator's TTL (`TOLLGATE_RESPONSES_TTL_SECONDS`).
 *
 * A record holds the Response, this turn's input items and the conversation before it
 * (`history`: the inputs and outputs of earlier turns), so `previous_response_id` needs one
 * read. The tenant is part of the key: another tenant's id is simply not found (404).
 * This is the only place the gateway keeps conversation text; events never carry it.
 *
 * With `TOLLGATE_MASTER_KEY` set, records are sealed (AES-256-GCM, as provider keys and cache
 * entries) and carry their own store key inside the seal, so a record copied under another
 * tenant's or response's key does not open there: nothing sits in Redis in clear.
 */
import type { ResponseItem, ResponseObject } from "../canonical/responses.ts";
import { decryptSecret, encryptSecret } from "../config/secrets.ts";
import type { StateStore } from "../stores/state-store.ts";

export interface StoredResponse {
  response: ResponseObject;
  /** This turn's input items (ids assigned). */
  input: ResponseItem[];
  /** The conversation before this turn (earlier inputs and outputs, in order). */
  history: ResponseItem[];
}

const PREFIX = "responses:";
const PLAIN = "p1:";
const SEALED = "s1:";
const tenantPrefix = (tenant: string) => `${PREFIX}${encodeURIComponent(tenant)}:`;
const keyOf = (tenant: string, id: string) => `${tenantPrefix(tenant)}${id}`;

export class ResponsesStore {
  constructor(
    private readonly store: StateStore,
    private readonly ttlMs: number,
    private readonly sealKey?: Buffer,
  ) {}

  async get(tenant: string, id: string): Promise<StoredResponse | null> {
    const key = keyOf(tenant, id);
    const raw = await this.store.get(key);
    if (raw === null) return null;
    if (raw.startsWith(PLAIN)) return JSON.parse(raw.slice(PLAIN.length)) as StoredResponse;
    if (!raw.startsWith(SEALED) || !this.sealKey) return null; // sealed with a key this process does not have
    try {
      const opened = JSON.parse(decryptSecret(raw.slice(SEALED.length), this.sealKey)) as { k: string; r: StoredResponse };
      return opened.k === key ? opened.r : null;
    } catch {
      return null; // another master key, or tampered with
    }
  }

  async put(tenant: string, record: StoredResponse): Promise<void> {
    const key = keyOf(tenant, record.response.id);
    const value = this.sealKey ? SEALED + encryptSecret(JSON.stringify({ k: key, r: record }), this.sealKey) : PLAIN + JSON.stringify(record);
    await this.store.set(key, value, { ttlMs: this.ttlMs });
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
