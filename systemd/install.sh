#!/usr/bin/env bash
# Install (or upgrade) the pickup station on a Debian 12 PC. Safe to run again.
#
#   sudo systemd/install.sh              station + Chromium kiosk screen on tty1
#   sudo systemd/install.sh --no-screen  station only (the screen is another machine)
#   sudo systemd/install.sh --wheels DIR the station and its dependencies from wheels in DIR
#                                        (pip wheel '.[postgres]' -w DIR), no package index;
#                                        with it, apt runs only for packages that are missing
#
# What it does: Debian packages, the users kiosk and kiosk-display, /etc/kiosk and
# /var/lib/kiosk, a virtualenv in /opt/kiosk/venv with this checkout installed,
# a first /etc/kiosk/kiosk.toml (kept if present), the systemd units, the udev rule
# and the Chromium policy, then `kiosk init` (migrations) and starts the units.
# See docs/deploy.md.
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX=/opt/kiosk
CONFIG=/etc/kiosk/kiosk.toml
SCREEN=1
WHEELS=""

while (( $# )); do
  case "$1" in
    --no-screen) SCREEN=0 ;;
    --wheels) WHEELS="$(cd "${2:?--wheels needs a folder}" && pwd)"; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "run as root (sudo $0)" >&2; exit 1; }
command -v apt-get >/dev/null || { echo "this installer is for Debian 12" >&2; exit 1; }

step() { printf '\n==> %s\n' "$*"; }

step "Debian packages"
packages=(python3 python3-venv python3-pip postgresql-client)
# xwayland: Debian's cage will not start without /usr/bin/Xwayland (and it is only a
# Recommends, which --no-install-recommends leaves out). espeak-ng: [kiosk] speech.
(( SCREEN )) && packages+=(chromium cage xwayland fonts-dejavu-core espeak-ng)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  echo "installing: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "all present: ${packages[*]}"
fi

step "users and directories"
install -D -m 0644 "$SRC/systemd/kiosk.sysusers" /usr/lib/sysusers.d/kiosk.conf
install -D -m 0644 "$SRC/systemd/kiosk.tmpfiles" /usr/lib/tmpfiles.d/kiosk.conf
systemd-sysusers /usr/lib/sysusers.d/kiosk.conf
systemd-tmpfiles --create /usr/lib/tmpfiles.d/kiosk.conf

step "the station in $PREFIX/venv"
# An upgrade: stop the running station so old and new code never mix.
systemctl stop kiosk.service 2>/dev/null || true
[ -x "$PREFIX/venv/bin/python" ] || python3 -m venv "$PREFIX/venv"
if [ -n "$WHEELS" ]; then
  "$PREFIX/venv/bin/python" -m pip install -q --no-index --find-links "$WHEELS" --upgrade \
    'kiosk[postgres]'
  "$PREFIX/venv/bin/python" -m pip install -q --no-index --find-links "$WHEELS" \
    --force-reinstall --no-deps kiosk
else
  "$PREFIX/venv/bin/python" -m pip install -q --upgrade pip
  "$PREFIX/venv/bin/python" -m pip install -q --upgrade "$SRC[postgres]"
  "$PREFIX/venv/bin/python" -m pip install -q --force-reinstall --no-deps "$SRC"
fi
# The unit's file system is read-only: compile now, not at first start.
"$PREFIX/venv/bin/python" -m compileall -q "$PREFIX/venv/lib" >/dev/null || true

step "configuration $CONFIG"
if [ ! -e "$CONFIG" ]; then
  cat >"$CONFIG" <<'TOML'
# The pickup station's configuration; every key: station_config/example.toml.
[station]
name = "Pickup station"
branch = "main"
language = "nb"

[database]
url = "sqlite:////var/lib/kiosk/kiosk.db"

[server]
host = "127.0.0.1"
port = 8080

[scanner]
kind = "none"      # "serial" with port = "/dev/kiosk-scanner" (see 99-kiosk-scanner.rules)

[[shelves]]
name = "A"
slots = 24
capacity = 3
TOML
  echo "wrote $CONFIG: edit it, then systemctl restart kiosk"
else
  echo "kept $CONFIG"
fi
chown root:kiosk "$CONFIG"
chmod 0640 "$CONFIG"
"$PREFIX/venv/bin/kiosk" --config "$CONFIG" check-config

step "systemd units, udev rule, Chromium policy"
install -D -m 0644 "$SRC/systemd/kiosk.service" /etc/systemd/system/kiosk.service
install -D -m 0644 "$SRC/systemd/kiosk-browser.service" /etc/systemd/system/kiosk-browser.service
install -D -m 0644 "$SRC/systemd/99-kiosk-scanner.rules" /etc/udev/rules.d/99-kiosk-scanner.rules
install -D -m 0644 "$SRC/systemd/chromium-policy.json" /etc/chromium/policies/managed/kiosk.json
install -D -m 0644 "$SRC/docs/deploy.md" /usr/share/doc/kiosk/deploy.md
install -d -m 0755 /usr/share/doc/kiosk/examples
install -m 0644 "$SRC"/systemd/kiosk.service.d/*.example /usr/share/doc/kiosk/examples/
systemctl daemon-reload
! command -v udevadm >/dev/null || udevadm control --reload || true

step "database (kiosk init: create or migrate)"
(cd /var/lib/kiosk && runuser -u kiosk -- env KIOSK_CONFIG="$CONFIG" \
  STATE_DIRECTORY=/var/lib/kiosk "$PREFIX/venv/bin/kiosk" init)

step "start"
systemctl enable kiosk.service
systemctl restart kiosk.service
screen="no screen unit (--no-screen)"
if (( SCREEN )); then
  systemctl set-default graphical.target
  systemctl enable kiosk-browser.service
  systemctl restart kiosk-browser.service
  # A unit whose condition fails is skipped without an error: say so, not "done".
  if [ "$(systemctl show -P ConditionResult kiosk-browser.service)" = no ]; then
    screen="SKIPPED the screen unit kiosk-browser.service: /dev/tty1 is missing (its \
ConditionPathExists=); no patron screen runs on this machine"
  elif systemctl is-active -q kiosk-browser.service; then
    screen="the patron screen runs on tty1 (kiosk-browser.service)"
  else
    screen="the screen unit kiosk-browser.service FAILED: journalctl -u kiosk-browser"
  fi
fi
systemctl --no-pager --lines=5 status kiosk.service || true
echo
if systemctl is-active -q kiosk.service; then
  echo "station: serves http://127.0.0.1:8080 (logs: journalctl -u kiosk)"
else
  echo "station: kiosk.service is NOT running: journalctl -u kiosk -b -p warning" >&2
fi
echo "screen: $screen"
systemctl is-active -q kiosk.service || exit 1
case "$screen" in
  *FAILED*) exit 1 ;;
  SKIPPED*) echo "done, WITHOUT the patron screen (--no-screen if that is meant)" ;;
  *) echo "done" ;;
esac
