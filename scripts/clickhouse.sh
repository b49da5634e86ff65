#!/usr/bin/env bash
# Start/stop a throwaway ClickHouse server for tests and local runs (Debian's clickhouse-server).
#
#   scripts/clickhouse.sh install   install Debian's clickhouse-server if no server binary is found (idempotent)
#   scripts/clickhouse.sh start     start a server as the current user, HTTP on 127.0.0.1:$CLICKHOUSE_HTTP_PORT
#                                   (default 18123), wait for `GET /ping` → `Ok.`, print
#                                   CLICKHOUSE_TEST_URL=http://127.0.0.1:<port>
#   scripts/clickhouse.sh stop      shut it down (SIGTERM, then SIGKILL) and remove its run dir
#   scripts/clickhouse.sh kill      SIGKILL it and KEEP its run dir (a crash, for tests: a later
#                                   `CLICKHOUSE_KEEP_DATA=1 ... start` brings it back with its tables)
#   scripts/clickhouse.sh status    exit 0 when it answers /ping, 1 otherwise
#
# Typical use:  bash scripts/clickhouse.sh install && eval "$(bash scripts/clickhouse.sh start)"
#
# Env: CLICKHOUSE_HTTP_PORT (default 18123); CLICKHOUSE_TCP_PORT (unset: no native-protocol listener,
#      set it to use clickhouse-client); CLICKHOUSE_TEST_PASSWORD (password of the `default` user,
#      default none); CLICKHOUSE_KEEP_DATA=1 (start reuses the data a `kill` left instead of a fresh
#      dir); CLICKHOUSE_START_TIMEOUT_S (default 30).
# The server gets its own config.xml/users.xml, data, logs and pid under
# .services/clickhouse/run-<http port>/ and listens on 127.0.0.1 only, HTTP (plus TCP when asked),
# no interserver port: it never collides with a system ClickHouse on 8123/9000/9009 (the Debian
# package may install, and try to start, such a service; we never use it and leave it alone).
# Only the CLICKHOUSE_TEST_URL line goes to stdout; progress and errors go to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${CLICKHOUSE_HTTP_PORT:-18123}"
TCP_PORT="${CLICKHOUSE_TCP_PORT:-}"
PASSWORD="${CLICKHOUSE_TEST_PASSWORD:-}"
HOST="127.0.0.1"
RUN_DIR="$ROOT/.services/clickhouse/run-$PORT"
PID_FILE="$RUN_DIR/clickhouse.pid"
LOG_FILE="$RUN_DIR/clickhouse-server.log"
ERR_FILE="$RUN_DIR/clickhouse-server.err.log"
OUT_FILE="$RUN_DIR/stdout.log"
START_TIMEOUT_S="${CLICKHOUSE_START_TIMEOUT_S:-30}"

log() { echo "clickhouse.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# shellcheck source=lib.sh
source "$ROOT/scripts/lib.sh"

# The server command: Debian's package installs /usr/sbin/clickhouse-server (often not on a
# user's PATH); ClickHouse's own packages install /usr/bin/clickhouse (`clickhouse server`) with a
# clickhouse-server symlink. Prints the command words, one per line.
server_cmd() {
  local c
  for c in "$(command -v clickhouse-server 2>/dev/null || true)" /usr/sbin/clickhouse-server /usr/bin/clickhouse-server /usr/local/bin/clickhouse-server; do
    if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; return 0; fi
  done
  for c in "$(command -v clickhouse 2>/dev/null || true)" /usr/bin/clickhouse /usr/local/bin/clickhouse; do
    if [ -n "$c" ] && [ -x "$c" ]; then printf '%s\nserver\n' "$c"; return 0; fi
  done
  return 1
}

installed_version() { dpkg-query -W -f '${Version}' clickhouse-server 2>/dev/null || echo "unknown version"; }

# GET /ping over bash's /dev/tcp (no curl needed), bounded: something that accepts connections but
# never answers must not hang us. Prints the body's last line (`Ok.` from a live server).
ping_body() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1 && printf 'GET /ping HTTP/1.0\r\nHost: $HOST\r\n\r\n' >&3 && cat <&3" 2>/dev/null \
    | tail -n 1 | tr -d '\r\n' || true
}
# Anything but `Ok.` (connection refused, an empty answer while it loads) is transient until the
# deadline; LAST_PROBE keeps the last one, for the message when we give up.
LAST_PROBE="no probe yet"
ping_ok() {
  local body
  body="$(ping_body "$PORT")"
  [ "$body" = "Ok." ] && return 0
  LAST_PROBE="GET /ping: ${body:-no answer (connection refused or timed out)}"
  return 1
}

port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }

cmd_install() {
  local cmd
  if cmd="$(server_cmd)"; then
    log "clickhouse server already installed: $(echo "$cmd" | head -n1) ($(installed_version))"
    return 0
  fi
  apt_install clickhouse-server
  # The package may have started (or tried to start) a system service on 8123/9000: we never
  # use it; our instances listen on their own ports.
  cmd="$(server_cmd)" || die "no clickhouse-server binary after install"
  log "installed: $(echo "$cmd" | head -n1) ($(installed_version))"
}

write_config() {
  local tcp_line="" password_xml="<password></password>"
  [ -n "$TCP_PORT" ] && tcp_line="<tcp_port>$TCP_PORT</tcp_port>"
  if [ -n "$PASSWORD" ]; then
    password_xml="<password_sha256_hex>$(printf '%s' "$PASSWORD" | sha256sum | cut -d' ' -f1)</password_sha256_hex>"
  fi
  # Only settings every version from 18.x on understands. No include_from/incl: nothing is read
  # from /etc/clickhouse-server or /etc/metrika.xml.
  cat >"$RUN_DIR/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>$LOG_FILE</log>
    <errorlog>$ERR_FILE</errorlog>
    <size>50M</size>
    <count>1</count>
  </logger>
  <listen_host>$HOST</listen_host>
  <http_port>$PORT</http_port>
  $tcp_line
  <path>$RUN_DIR/data/</path>
  <tmp_path>$RUN_DIR/data/tmp/</tmp_path>
  <user_files_path>$RUN_DIR/data/user_files/</user_files_path>
  <format_schema_path>$RUN_DIR/data/format_schemas/</format_schema_path>
  <users_config>$RUN_DIR/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <keep_alive_timeout>3</keep_alive_timeout>
  <mlock_executable>false</mlock_executable>
</yandex>
EOF
  cat >"$RUN_DIR/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>2000000000</max_memory_usage>
    </default>
  </profiles>
  <users>
    <default>
      $password_xml
      <networks>
        <ip>127.0.0.1</ip>
        <ip>::1</ip>
      </networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
EOF
}

cmd_start() {
  local cmd
  cmd="$(server_cmd)" || die "no clickhouse-server binary: run 'scripts/clickhouse.sh install' first"
  local -a argv
  mapfile -t argv <<<"$cmd"

  local pid
  if pid="$(read_pid)" && pid_alive "$pid" && ping_ok; then
    log "already running on $HOST:$PORT (pid $pid)"
    echo "CLICKHOUSE_TEST_URL=http://$HOST:$PORT"
    return 0
  fi
  if pid="$(read_pid)" && pid_alive "$pid"; then
    die "pid $pid of $RUN_DIR is alive but does not answer /ping: run 'scripts/clickhouse.sh stop' first"
  fi
  if port_open "$PORT"; then
    die "port $PORT is in use by a process that is not ours (no live pid in $PID_FILE): pick another CLICKHOUSE_HTTP_PORT"
  fi
  if [ -n "$TCP_PORT" ] && port_open "$TCP_PORT"; then
    die "port $TCP_PORT is in use: pick another CLICKHOUSE_TCP_PORT"
  fi

  if [ "${CLICKHOUSE_KEEP_DATA:-}" = "1" ] && [ -d "$RUN_DIR/data" ]; then
    log "restarting on the data left in $RUN_DIR/data"
    rm -f "$PID_FILE"
  else
    rm -rf "$RUN_DIR"
    mkdir -p "$RUN_DIR/data"
  fi
  write_config

  local t0
  t0="$(date +%s%N)"
  # Our own process (not --daemon): $! is the server's pid. cwd = the run dir, stdin closed.
  (cd "$RUN_DIR" && exec nohup "${argv[@]}" --config-file="$RUN_DIR/config.xml" >>"$OUT_FILE" 2>&1 </dev/null) &
  pid=$!
  echo "$pid" >"$PID_FILE"

  local deadline=$((SECONDS + START_TIMEOUT_S))
  until ping_ok; do
    if ! pid_alive "$pid"; then
      log "server exited during start-up; last log lines:"
      tail -n 20 "$OUT_FILE" "$ERR_FILE" >&2 2>/dev/null || true
      rm -rf "$RUN_DIR"
      die "clickhouse-server did not start on port $PORT"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "no 'Ok.' from http://$HOST:$PORT/ping after ${START_TIMEOUT_S}s (last probe: $LAST_PROBE); last log lines:"
      tail -n 20 "$OUT_FILE" "$ERR_FILE" >&2 2>/dev/null || true
      cmd_stop || true
      exit 1
    fi
    sleep 0.05
  done
  log "started on http://$HOST:$PORT${TCP_PORT:+ (tcp $TCP_PORT)} in $((($(date +%s%N) - t0) / 1000000)) ms (pid $pid, dir $RUN_DIR)"
  echo "CLICKHOUSE_TEST_URL=http://$HOST:$PORT"
}

cmd_stop() {
  local pid=""
  pid="$(read_pid)" || pid=""
  if [ -n "$pid" ] && pid_alive "$pid"; then
    kill "$pid" 2>/dev/null || true
    if ! wait_dead "$pid" 150; then
      log "pid $pid still alive 15 s after SIGTERM; sending SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
      wait_dead "$pid" 50 || log "pid $pid survived SIGKILL"
    fi
  elif ping_ok; then
    log "port $PORT answers but no pid file of ours: not stopping someone else's ClickHouse"
  fi
  rm -rf "$RUN_DIR"
  log "stopped (port $PORT)"
}

cmd_kill() {
  local pid=""
  pid="$(read_pid)" || die "no pid file in $RUN_DIR: nothing of ours runs on port $PORT"
  if pid_alive "$pid"; then
    kill -9 "$pid" 2>/dev/null || true
    wait_dead "$pid" 50 || die "pid $pid survived SIGKILL"
  fi
  log "killed pid $pid (port $PORT); data kept in $RUN_DIR/data"
}

cmd_status() {
  local pid=""
  pid="$(read_pid)" || pid=""
  if ping_ok; then
    if [ -n "$pid" ] && pid_alive "$pid"; then
      echo "running: http://$HOST:$PORT (pid $pid, dir $RUN_DIR)"
    else
      echo "running: http://$HOST:$PORT (not started by this script)"
    fi
    return 0
  fi
  if [ -n "$pid" ] && pid_alive "$pid"; then
    echo "unresponsive: pid $pid alive but no 'Ok.' from http://$HOST:$PORT/ping"
  else
    echo "stopped: nothing answers on http://$HOST:$PORT"
  fi
  return 1
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  kill) cmd_kill ;;
  status) cmd_status ;;
  *) echo "usage: $0 {install|start|stop|kill|status}   (port: CLICKHOUSE_HTTP_PORT, default 18123)" >&2; exit 2 ;;
esac
