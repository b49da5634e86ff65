# Shared helpers of the service scripts (sourced; the caller defines `log` and `die`, and
# `PID_FILE` for read_pid).

# Run a command as root: directly, or through passwordless sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else die "need root (or passwordless sudo) to run: $*"
  fi
}

# Install Debian packages non-interactively; refresh the apt index once if the first try fails.
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "$* missing and apt-get is not available; install it yourself"
  export DEBIAN_FRONTEND=noninteractive
  local apt_opts=(-y -q -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  log "installing $* with apt-get"
  if ! as_root apt-get install "${apt_opts[@]}" --no-install-recommends "$@" >&2; then
    log "install failed; refreshing the apt index and retrying"
    as_root apt-get update -q -o DPkg::Lock::Timeout=120 >&2
    as_root apt-get install "${apt_opts[@]}" --no-install-recommends "$@" >&2
  fi
}

# The pid in $PID_FILE (digits only), or status 1.
read_pid() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid="$(tr -dc '0-9' <"$PID_FILE" 2>/dev/null || true)"
  [ -n "$pid" ] || return 1
  echo "$pid"
}

# A killed daemon may linger as a zombie until its reaper gets to it: that counts as dead.
pid_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state="$(sed -e 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1 || true)"
  [ "$state" != "Z" ]
}

# Wait until pid $1 is dead, at most $2 tenths of a second; status 1 if it still lives.
wait_dead() {
  local i
  for ((i = 0; i < $2; i++)); do pid_alive "$1" || return 0; sleep 0.1; done
  ! pid_alive "$1"
}
