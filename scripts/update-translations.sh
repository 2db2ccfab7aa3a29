#!/usr/bin/env bash
# Extract messages from the sources, merge them into every catalogue, compile the .mo files.
# New language: pybabel init -i kiosk/translations/messages.pot -d kiosk/translations -l xx
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-pybabel}"
command -v "$PYBABEL" >/dev/null || PYBABEL="$(dirname "$(command -v python3)")/pybabel"

"$PYBABEL" extract -F babel.cfg -k _l -k lazy_gettext -k N_ -k Nn_:1,2 --no-location --sort-output \
  --project kiosk --copyright-holder "kiosk contributors" \
  -o kiosk/translations/messages.pot .
"$PYBABEL" update -i kiosk/translations/messages.pot -d kiosk/translations \
  --no-fuzzy-matching --ignore-obsolete
"$PYBABEL" compile -d kiosk/translations --statistics
