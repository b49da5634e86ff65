#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft, combined broker + controller) for tests and local runs,
# with nothing but Java 17+ and Maven: the broker jars come from Maven Central.
#
#   bash scripts/kafka.sh install    # jars into .services/kafka/libs (cached; 2nd run is instant)
#   export "$(bash scripts/kafka.sh start)"   # prints KAFKA_BROKERS=127.0.0.1:<port> (one line)
#   bash scripts/kafka.sh status
#   bash scripts/kafka.sh stop
#
# Env: KAFKA_PORT (default 19092), KAFKA_CONTROLLER_PORT (default 19093),
#      KAFKA_VERSION (default 4.1.0), KAFKA_HEAP (default -Xmx512m -Xms128m),
#      KAFKA_START_TIMEOUT seconds (default 90).
# Everything lives under .services/kafka/: libs/<version>/ (jars), run-<port>/ (config, data,
# broker log, pid; removed by stop).
# Only `start` writes to stdout (the KAFKA_BROKERS line); progress goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="$ROOT/.services/kafka"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.0}"
LIBS="$BASE/libs/$KAFKA_VERSION" # per version: installing another never touches a running broker's jars
POM="$BASE/pom-$KAFKA_VERSION.xml"
SLF4J_VERSION="1.7.36" # the slf4j-api line Kafka 4.x depends on
PORT="${KAFKA_PORT:-19092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
RUN="$BASE/run-$PORT"
PIDFILE="$RUN/kafka.pid"
LOGFILE="$RUN/kafka.log"
TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
HEAP="${KAFKA_HEAP:--Xmx512m -Xms128m}"

log() { echo "[kafka.sh] $*" >&2; }
die() { log "error: $*"; exit 1; }

# shellcheck source=lib.sh
source "$ROOT/scripts/lib.sh"

# Java and Maven: installed from Debian's packages when missing and we may (root + apt-get).
ensure_tools() {
  if command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1; then return 0; fi
  if command -v apt-get >/dev/null 2>&1; then apt_install default-jre-headless maven || true; fi
  command -v java >/dev/null 2>&1 || die "java is required (JDK/JRE 17+)"
  command -v mvn >/dev/null 2>&1 || die "mvn is required (Maven)"
}

install() {
  local stamp="$LIBS/.installed"
  if [[ -f "$stamp" ]]; then
    log "kafka $KAFKA_VERSION already installed in $LIBS"
    return 0
  fi
  ensure_tools
  mkdir -p "$BASE/libs"
  cat >"$POM" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>tollgate.services</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-simple</artifactId>
      <version>$SLF4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  log "fetching kafka_2.13 $KAFKA_VERSION and its runtime dependencies from Maven Central"
  local tmp="$LIBS.tmp"
  rm -rf "$tmp"
  if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$BASE/mvn.log" 2>&1; then
    tail -n 30 "$BASE/mvn.log" >&2 || true
    die "mvn could not fetch kafka $KAFKA_VERSION (see $BASE/mvn.log; try KAFKA_VERSION=4.0.0)"
  fi
  [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  touch "$stamp"
  log "installed $(ls "$LIBS" | wc -l) jars into $LIBS"
}

classpath() { echo "$LIBS/*"; }

# The storage-format tool moved between Kafka versions: find whichever this version ships.
# (Jar entry names are stored uncompressed, so grep finds them without unzip.)
storage_tool_class() {
  if grep -qa "org/apache/kafka/tools/StorageTool.class" "$LIBS"/kafka*.jar; then
    echo org.apache.kafka.tools.StorageTool
  elif grep -qa "kafka/tools/StorageTool.class" "$LIBS"/kafka_2.13-*.jar; then
    echo kafka.tools.StorageTool
  else
    die "no StorageTool class in $LIBS"
  fi
}

running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_config() {
  cat >"$RUN/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$RUN/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# classic group protocol (the one kafkajs speaks): allow the short session timeouts tests use
group.min.session.timeout.ms=1000
auto.create.topics.enable=false
delete.topic.enable=true
num.network.threads=2
num.io.threads=4
log.segment.bytes=16777216
log.retention.hours=168
log.cleaner.dedupe.buffer.size=16777216
EOF
}

start() {
  install
  local pid
  if pid="$(running_pid)"; then
    port_open "$PORT" || die "kafka pid $pid is running but port $PORT is closed (see $LOGFILE)"
    log "already running (pid $pid) on 127.0.0.1:$PORT"
    echo "KAFKA_BROKERS=127.0.0.1:$PORT"
    return 0
  fi
  if port_open "$PORT" || port_open "$CONTROLLER_PORT"; then
    die "port $PORT or $CONTROLLER_PORT is in use by another process: set KAFKA_PORT / KAFKA_CONTROLLER_PORT"
  fi
  rm -rf "$RUN"
  mkdir -p "$RUN/data"
  write_config
  local tool cluster_id
  tool="$(storage_tool_class)"
  # A random cluster id: 16 bytes, base64url without padding (what `kafka-storage random-uuid` prints).
  cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  log "formatting storage ($tool, cluster id $cluster_id)"
  java -cp "$(classpath)" "$tool" format -t "$cluster_id" -c "$RUN/server.properties" >"$RUN/format.log" 2>&1 \
    || { tail -n 30 "$RUN/format.log" >&2; die "storage format failed"; }

  log "starting broker on 127.0.0.1:$PORT (controller $CONTROLLER_PORT), log $LOGFILE"
  # shellcheck disable=SC2086 # HEAP is a list of JVM flags
  nohup java $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=info -Dorg.slf4j.simpleLogger.showDateTime=true \
    -Dorg.slf4j.simpleLogger.log.org.apache.kafka.clients=warn \
    -cp "$(classpath)" kafka.Kafka "$RUN/server.properties" >"$LOGFILE" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PIDFILE"

  local deadline=$((SECONDS + TIMEOUT)) last="port $PORT not open"
  WARM_DEADLINE=$deadline
  until port_open "$PORT" && grep -q "Kafka Server started" "$LOGFILE" 2>/dev/null; do
    if port_open "$PORT"; then last="port $PORT open, no 'Kafka Server started' in the log yet"; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$LOGFILE" >&2 || true
      rm -f "$PIDFILE"
      die "broker exited during start-up"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 40 "$LOGFILE" >&2 || true
      stop
      die "broker not ready after ${TIMEOUT}s (last probe: $last)"
    fi
    sleep 0.2
  done
  warm_up "$pid"
  log "ready (pid $pid)"
  echo "KAFKA_BROKERS=127.0.0.1:$PORT"
}

# The first consumer-group request on a fresh broker creates __consumer_offsets, and clients
# get "coordinator is loading" / NOT_COORDINATOR_FOR_GROUP until it is: probe that here (with
# kafkajs, when the project's dependencies are installed; scripts/kafka-warm-up.ts retries every
# probe until the deadline whatever the transient error), so the first test does not pay for it.
warm_up() {
  if ! command -v bun >/dev/null 2>&1 || [[ ! -d "$ROOT/node_modules/kafkajs" ]]; then return 0; fi
  local left=$((WARM_DEADLINE - SECONDS))
  ((left > 30)) || left=30
  if ! (cd "$ROOT" && bun scripts/kafka-warm-up.ts "127.0.0.1:$PORT" "$left" 2>"$RUN/warm-up.log"); then
    tail -n 40 "$LOGFILE" >&2 || true
    tail -n 20 "$RUN/warm-up.log" >&2 || true
    local last
    last="$(grep -o 'last probe: .*' "$RUN/warm-up.log" | tail -n 1 || true)"
    stop
    die "broker did not answer a client within ${TIMEOUT}s (${last:-warm-up failed})"
  fi
  local retries
  retries="$(grep -c 'not ready yet' "$RUN/warm-up.log" || true)"
  ((retries == 0)) || log "warm-up retried $retries transient error(s): $(grep -o 'not ready yet (.*)' "$RUN/warm-up.log" | sort | uniq -c | tr -s ' ' | paste -sd';' -)"
  kill -0 "$1" 2>/dev/null || die "broker exited during warm-up"
}

stop() {
  local pid
  if pid="$(running_pid)"; then
    log "stopping pid $pid"
    kill "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 150; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid still alive after 15s: SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
    fi
  else
    log "not running on port $PORT"
  fi
  rm -rf "$RUN"
}

status() {
  local pid
  if pid="$(running_pid)"; then
    if port_open "$PORT"; then
      echo "running pid=$pid KAFKA_BROKERS=127.0.0.1:$PORT"
    else
      echo "starting pid=$pid (port $PORT not open yet)"
    fi
    return 0
  fi
  echo "stopped (port $PORT)"
  return 3
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 install|start|stop|status" >&2
    exit 2
    ;;
esac
