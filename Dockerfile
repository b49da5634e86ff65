# syntax=docker/dockerfile:1
# The Tollgate gateway. Debian-based Bun image on purpose: chDB (the embedded analytics engine,
# a production dependency) ships a glibc-only native library, so an Alpine (musl) base would not load it.
#
#   docker build -t tollgate .
#   docker run -p 8200:8200 -e TOLLGATE_ADMIN_KEY=change-me-0123456789 -v tollgate-data:/data tollgate
ARG BUN_VERSION=1.4.5

FROM oven/bun:${BUN_VERSION} AS deps
WORKDIR /app
COPY package.json bun.lock ./
# bun install applies patches/ (package.json patchedDependencies: kafkajs's idle 1 ms timer loop)
COPY patches ./patches
RUN bun install --frozen-lockfile --production

FROM oven/bun:${BUN_VERSION}
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8200 \
    TOLLGATE_DATA_DIR=/data \
    TOLLGATE_PLUGINS_DIR=/app/plugins
COPY --from=deps /app/node_modules ./node_modules
COPY package.json bun.lock tsconfig.json ./
COPY src ./src
COPY plugins ./plugins
# The event log (or, with Kafka, its local outbox) and the embedded stores live under /data.
RUN mkdir -p /data && chown bun:bun /data
USER bun
VOLUME ["/data"]
EXPOSE 8200
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["bun", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || '8200') + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The engine's GC sizes the heap from this RAM figure instead of the host's (docs/benchmarks.md, "Memory").
ENV BUN_JSC_forceRAMSize=402653184
CMD ["bun", "run", "src/main.ts"]
