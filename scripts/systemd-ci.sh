#!/usr/bin/env bash
# Prepare what tests/test_systemd_real.py boots: a minimal Debian 12 tree (mmdebstrap)
# with systemd and every package systemd/install.sh wants, and a wheelhouse of the
# station and its dependencies, so install.sh runs inside with no network.
#
#   scripts/systemd-ci.sh prepare   prints two lines: TREE=<dir> and WHEELS=<dir>
#
# The tree is cached under $KIOSK_CI_CACHE (default /var/cache/kiosk-ci), keyed by a hash
# of its package list; the container boots it with --volatile=overlay, so it stays
# pristine. The dependencies' wheels are cached keyed by pyproject.toml; the station's
# own wheel is built from this checkout every time. Needs root (mmdebstrap, nspawn).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${KIOSK_CI_CACHE:-/var/cache/kiosk-ci}
SUITE=bookworm
# systemd as PID 1, install.sh's packages (so it needs no apt), iproute2 for the
# sandbox check's dummy network interface.
PACKAGES=(systemd systemd-sysv dbus libpam-systemd iproute2 procps
          python3 python3-venv python3-pip postgresql-client
          chromium cage xwayland fonts-dejavu-core espeak-ng)

log() { printf '%s\n' "$*" >&2; }

host_packages() {
  local need=()
  command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
  command -v systemd-nspawn >/dev/null || need+=(systemd-container)
  command -v nsenter >/dev/null || need+=(util-linux)
  if (( ${#need[@]} )); then
    log "installing on the host: ${need[*]}"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      "${need[@]}" >&2
  fi
}

tree() {
  local key dir
  key=$(printf '%s\n' "$SUITE" "${PACKAGES[@]}" | sha256sum | cut -c1-16)
  dir="$CACHE/tree-$key"
  if [ ! -e "$dir/.complete" ]; then
    log "building the Debian $SUITE tree $dir (mmdebstrap; cached for the next run)"
    rm -rf "$dir" "$dir.tmp"
    mkdir -p "$CACHE"
    local include
    include=$(IFS=,; echo "${PACKAGES[*]}")
    mmdebstrap --variant=minbase --include="$include" "$SUITE" "$dir.tmp" >&2
    touch "$dir.tmp/.complete"
    mv "$dir.tmp" "$dir"
    # older trees of other package lists are of no more use
    find "$CACHE" -maxdepth 1 -name 'tree-*' ! -name "tree-$key" -exec rm -rf {} + || true
  fi
  echo "$dir"
}

wheels() {
  local key deps out
  key=$(sha256sum pyproject.toml | cut -c1-16)
  deps="$CACHE/wheels-$key"
  if [ ! -e "$deps/.complete" ]; then
    log "building the dependencies' wheels $deps (pip wheel; cached for the next run)"
    rm -rf "$deps" "$deps.tmp"
    mkdir -p "$deps.tmp"
    python3 -m pip wheel -q --wheel-dir "$deps.tmp" '.[postgres]' >&2
    rm -f "$deps.tmp"/kiosk-*.whl
    touch "$deps.tmp/.complete"
    mv "$deps.tmp" "$deps"
    find "$CACHE" -maxdepth 1 -name 'wheels-*' ! -name "wheels-$key" -exec rm -rf {} + || true
  fi
  out="$CACHE/wheelhouse"
  rm -rf "$out"
  mkdir -p "$out"
  cp "$deps"/*.whl "$out/"
  python3 -m pip wheel -q --no-deps --wheel-dir "$out" . >&2
  echo "$out"
}

case "${1:-}" in
  prepare)
    [ "$(id -u)" = 0 ] || { log "run as root (mmdebstrap and systemd-nspawn need it)"; exit 1; }
    host_packages
    echo "TREE=$(tree)"
    echo "WHEELS=$(wheels)"
    ;;
  *) sed -n '2,11p' "$0"; exit 2 ;;
esac
