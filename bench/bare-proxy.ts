/**
 * The physical limit: a pass-through proxy in a few lines of Bun (no parsing, no events).
 *   PORT=9001 UPSTREAM=http://127.0.0.1:9000 bun bench/bare-proxy.ts
 */
const upstream = process.env.UPSTREAM ?? "http://127.0.0.1:9000";
const server = Bun.serve({
  port: Number(process.env.PORT ?? 0),
  hostname: "127.0.0.1",
  fetch(req) {
    const url = new URL(req.url);
    return fetch(upstream + url.pathname + url.search, { method: req.method, headers: req.headers, body: req.body });
  },
});
console.log(`bare proxy on ${server.port}`);
export {};
