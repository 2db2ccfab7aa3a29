#!/usr/bin/env bash
# Install what the tests need (Debian packages when missing, a venv of its own in .venv-test),
# then run them. The venv is not the README's demo venv (.venv): an editable install of the
# tests must never replace the package a running demo serves its templates from.
# --setup-only: install and stop; KIOSK_SKIP_SETUP=1: run the tests on what is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${KIOSK_SKIP_SETUP:-}" != 1 ]; then
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v zbarimg >/dev/null || need+=(zbar-tools)
# zbarimg reads the SVG QR codes through ImageMagick's SVG coder, which is in the "extra" package.
dpkg -s libmagickcore-6.q16-6-extra >/dev/null 2>&1 || need+=(libmagickcore-6.q16-6-extra)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v sox >/dev/null || need+=(sox)
command -v openssl >/dev/null || need+=(openssl)
if (( ${#need[@]} )); then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
fi

venv=${KIOSK_TEST_VENV:-.venv-test}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e '.[test]'
fi
[ "${1:-}" = --setup-only ] && exit 0

exec "${KIOSK_TEST_VENV:-.venv-test}/bin/python" -m pytest "$@"
