#!/usr/bin/env bash
# CPU profile of the gateway under load: the echo provider, wrk for PROFILE_SECONDS (default 10)
# at PROFILE_C connections (default 16), analytics on. Writes .services/bench/profile/*.md
# (Bun's --cpu-prof-md: the hottest functions, grep-friendly).
set -euo pipefail
cd "$(dirname "$0")/.."
BUN=${BUN:-bun}
OUT=.services/bench/profile
rm -rf "$OUT" && mkdir -p "$OUT"
DATA=$(mktemp -d)
PORT=$((20000 + RANDOM % 10000))
PORT=$PORT TOLLGATE_DATA_DIR=$DATA TOLLGATE_PLUGINS_DIR=$DATA/none TOLLGATE_CONFIG= OPENAI_API_KEY= KAFKA_BROKERS= REDIS_URL= \
  "$BUN" --cpu-prof --cpu-prof-md --cpu-prof-dir="$OUT" run src/main.ts >"$OUT/gateway.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
cat >"$OUT/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"model":"echo","messages":[{"role":"user","content":"Summarise request ' .. n .. ' in one short sentence please."}]}')
end
LUA
wrk -t2 -c"${PROFILE_C:-16}" -d"${PROFILE_SECONDS:-10}s" --latency -s "$OUT/post.lua" "http://127.0.0.1:$PORT/v1/chat/completions" | tee "$OUT/wrk.txt"
kill -INT $PID; wait $PID || true
rm -rf "$DATA"
ls "$OUT"
