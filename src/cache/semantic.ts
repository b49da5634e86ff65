/**
 * Pure: the semantic tier's decisions. A request is compared by similarity only on the wording of
 * its conversation; everything else must match exactly, so it is hashed into the SCOPE of the
 * search: tenant (or key), model and route, system prompt, tools, response format, every sampling
 * parameter — the exact key with the conversation's texts left out. Only the embedded text (the
 * non-system messages, role-tagged) is compared by cosine similarity.
 */
import type { ChatCompletionRequest } from "../canonical/chat.ts";
import { contentText } from "../canonical/chat.ts";
import { cacheKey, type KeyInput } from "./key.ts";

const SYSTEM_ROLES = new Set(["system", "developer"]);

export interface SemanticInput {
  /** SHA-256 of everything that must match exactly. */
  scope: string;
  /** What is embedded. */
  text: string;
}

/**
 * The scope and text of a chat request, or undefined when the tier does not apply: not chat,
 * more than `maxMessages` conversation messages, or a conversation that is not plain text (tool
 * calls and results, images: those must match exactly, which is the exact tier's job).
 */
export function semanticInput(input: KeyInput, maxMessages: number): SemanticInput | undefined {
  if (input.operation !== "chat") return undefined;
  const convo = input.request.messages.filter((m) => !SYSTEM_ROLES.has(m.role));
  if (convo.length === 0 || convo.length > maxMessages) return undefined;
  for (const m of convo) {
    if (m.tool_calls?.length || m.role === "tool" || (m.content != null && typeof m.content !== "string" && m.content.some((p) => p.type !== "text"))) return undefined;
  }
  // Conversation texts blanked; roles, order, names and the system messages stay in the scope.
  const blanked: ChatCompletionRequest = { ...input.request, messages: input.request.messages.map((m) => (SYSTEM_ROLES.has(m.role) ? m : { ...m, content: "" })) };
  const scope = cacheKey({ ...input, scope: `semantic:${input.scope}`, request: blanked });
  const text = convo.map((m) => `${m.role}: ${contentText(m.content ?? null)}`).join("\n");
  return { scope, text };
}

/** Unit length copy (cosine similarity becomes a dot product); undefined for a zero or non-finite vector. */
export function normalized(v: ArrayLike<number>): Float32Array | undefined {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  if (!(sum > 0) || !Number.isFinite(sum)) return undefined;
  const inv = 1 / Math.sqrt(sum);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! * inv;
  return out;
}

/**
 * Exact nearest-neighbour search by cosine over one contiguous Float32Array (unit vectors, one
 * row per entry). Adds are amortised O(1) (the buffer doubles); a search is one pass.
 */
export class VectorIndex {
  private data: Float32Array;
  private readonly ids: string[] = [];
  private readonly expires: number[] = [];
  private readonly pos = new Map<string, number>();

  constructor(readonly dims: number, capacity = 64) {
    this.data = new Float32Array(dims * capacity);
  }

  get size(): number {
    return this.ids.length;
  }

  has(id: string): boolean {
    return this.pos.has(id);
  }

  /** Add (or replace) a unit vector. */
  add(id: string, unit: Float32Array, expiresAt: number): void {
    if (unit.length !== this.dims) throw new RangeError(`vector has ${unit.length} dimensions, the index ${this.dims}`);
    let row = this.pos.get(id);
    if (row === undefined) {
      row = this.ids.length;
      if ((row + 1) * this.dims > this.data.length) {
        const bigger = new Float32Array(this.data.length * 2);
        bigger.set(this.data);
        this.data = bigger;
      }
      this.ids.push(id);
      this.expires.push(expiresAt);
      this.pos.set(id, row);
    }
    this.expires[row] = expiresAt;
    this.data.set(unit, row * this.dims);
  }

  /** A stored vector (a view into the index: copy it to keep it past the next change). */
  vector(id: string): Float32Array | undefined {
    const row = this.pos.get(id);
    return row === undefined ? undefined : this.data.subarray(row * this.dims, (row + 1) * this.dims);
  }

  /** Remove an entry (the last row moves into its place). */
  remove(id: string): void {
    const row = this.pos.get(id);
    if (row === undefined) return;
    const last = this.ids.length - 1;
    if (row !== last) {
      this.data.copyWithin(row * this.dims, last * this.dims, (last + 1) * this.dims);
      this.ids[row] = this.ids[last]!;
      this.expires[row] = this.expires[last]!;
      this.pos.set(this.ids[row]!, row);
    }
    this.ids.pop();
    this.expires.pop();
    this.pos.delete(id);
  }

  /** The most similar live entry (expiry after `now`), or undefined when there is none. */
  nearest(unit: Float32Array, now: number): { id: string; similarity: number } | undefined {
    if (unit.length !== this.dims) return undefined;
    const d = this.dims;
    const data = this.data;
    let best = -Infinity;
    let bestRow = -1;
    for (let r = 0; r < this.ids.length; r++) {
      if (this.expires[r]! <= now) continue;
      let dot = 0;
      const off = r * d;
      for (let i = 0; i < d; i++) dot += data[off + i]! * unit[i]!;
      if (dot > best) {
        best = dot;
        bestRow = r;
      }
    }
    return bestRow < 0 ? undefined : { id: this.ids[bestRow]!, similarity: Math.min(1, best) };
  }

  /** Drop expired entries; returns their ids. */
  prune(now: number): string[] {
    const dead = this.ids.filter((_, r) => this.expires[r]! <= now);
    for (const id of dead) this.remove(id);
    return dead;
  }
}

/** Lower edges of the similarity buckets, highest first; 0.97 is the default threshold (src/cache/policy.ts). */
export const SIMILARITY_EDGES = [0.99, 0.98, 0.97, 0.95, 0.9, 0.85, 0.8] as const;

/** Pure: the similarity bucket a lookup's best score falls in (for the stats' distribution). */
export function similarityBucket(similarity: number | undefined): string {
  if (similarity === undefined) return "none";
  for (const edge of SIMILARITY_EDGES) if (similarity >= edge) return `ge_${edge.toFixed(2)}`;
  return "lt_0.80";
}
