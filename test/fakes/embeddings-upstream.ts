/**
 * A fake OpenAI embeddings upstream with CONTROLLED vectors: `POST /v1/embeddings` in OpenAI's
 * format, answering each input with the vector set for that exact text (`set`), else a
 * deterministic pseudo-random one. `fail` makes it answer 500 (or hang) until cleared.
 *
 * ```ts
 * const fake = startFakeEmbeddings({ dims: 8 });
 * fake.set("user: What's your refund policy?", unit(0));
 * fake.fail("500"); fake.fail("hang"); fake.fail(null);
 * ```
 */
export interface FakeEmbeddings {
  url: string;
  /** Texts received, in order. */
  inputs: string[];
  set(text: string, vector: number[]): void;
  fail(mode: "500" | "hang" | null): void;
  close(): Promise<void>;
}

export function startFakeEmbeddings(opts: { dims: number }): FakeEmbeddings {
  const vectors = new Map<string, number[]>();
  const inputs: string[] = [];
  let failing: "500" | "hang" | null = null;
  const hanging: Array<() => void> = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      if (req.method !== "POST" || url.pathname !== "/v1/embeddings") return Response.json({ error: { message: "not found", type: "invalid_request_error", code: null, param: null } }, { status: 404 });
      const body = (await req.json()) as { model: string; input: string | string[] };
      const list = typeof body.input === "string" ? [body.input] : body.input;
      inputs.push(...list);
      if (failing === "500") return Response.json({ error: { message: "The server had an error", type: "server_error", code: null, param: null } }, { status: 500 });
      if (failing === "hang") return new Promise<Response>((resolve) => hanging.push(() => resolve(new Response("", { status: 500 }))));
      const data = list.map((text, index) => ({ object: "embedding", index, embedding: vectors.get(text) ?? pseudo(text, opts.dims) }));
      const tokens = list.reduce((n, t) => n + Math.ceil(t.length / 4), 0);
      return Response.json({ object: "list", data, model: body.model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/v1`,
    inputs,
    set: (text, vector) => void vectors.set(text, vector),
    fail(mode) {
      failing = mode;
      if (mode !== "hang") for (const r of hanging.splice(0)) r();
    },
    async close() {
      for (const r of hanging.splice(0)) r();
      await server.stop(true);
    },
  };
}

/** Deterministic, roughly orthogonal vectors for texts without a set one. */
function pseudo(text: string, dims: number): number[] {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  const out: number[] = [];
  for (let i = 0; i < dims; i++) {
    h = Math.imul(h ^ (h >>> 15), 2246822507) >>> 0;
    out.push((h / 0xffffffff) * 2 - 1);
  }
  return out;
}

/** A unit vector along axis `i` rotated towards axis `j` so that its cosine with axis `i` is `cos`. */
export function towards(dims: number, i: number, j: number, cos: number): number[] {
  const v = new Array<number>(dims).fill(0);
  v[i] = cos;
  v[j] = Math.sqrt(1 - cos * cos);
  return v;
}
