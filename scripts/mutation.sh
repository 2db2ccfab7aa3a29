#!/usr/bin/env bash
# Mutation-test modules of kiosk/ with mutmut, each against only the tests that cover it.
#   scripts/mutation.sh devices/scanparser.py ils/queue.py …   (paths under kiosk/)
#   scripts/mutation.sh --all                                  (every module in the map)
#   scripts/mutation.sh --postgres MODULE PATTERN…             (see below)
# The map module → test files is [tool.kiosk-mutation.tests] in pyproject.toml; the shared mutmut
# settings are [tool.mutmut]. Each module runs in its own copy of the project under
# .mutation/<module>/ (so runs of different modules never mix), niced, with one worker.
# Prints killed / survived / score per module, and the surviving mutants' names; see one with
#   (cd .mutation/<module> && ../../.venv-test/bin/mutmut show NAME)
#
# --postgres runs only the module's mutants whose names match the PATTERNs (fnmatch, e.g.
# 'kiosk.domain.importer.x__new_ids*') with the tests on PostgreSQL, in .mutation/<module>_pg/:
# for the lines SQLite never runs (COPY, sequences, row locks). The tests are the map's plus
# [tool.kiosk-mutation.postgres-tests]. The server is $KIOSK_TEST_POSTGRES, else a throw-away
# one (scripts/pg-temp.sh) in .mutation/pg on port $MUTATION_PG_PORT (default 55439).
# Not part of .ci/run: a module takes minutes. Env: MUTATION_JOBS (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
py=$root/.venv-test/bin/python
[ -x "$root/.venv-test/bin/mutmut" ] || "$py" -m pip install -q 'mutmut>=3.8,<4'

postgres=
if [ "${1:-}" = --postgres ]; then
  [ $# -ge 3 ] || { echo "usage: $0 --postgres MODULE PATTERN…" >&2; exit 2; }
  postgres=1
  shift
fi
modules=("$@")
patterns=()
if [ -n "$postgres" ]; then
  modules=("$1")
  patterns=("${@:2}")
  if [ -z "${KIOSK_TEST_POSTGRES:-}" ]; then
    KIOSK_TEST_POSTGRES=$(scripts/pg-temp.sh start "$root/.mutation/pg" "${MUTATION_PG_PORT:-55439}")
    trap 'scripts/pg-temp.sh stop "$root/.mutation/pg" >/dev/null 2>&1 || true' EXIT
  fi
  export KIOSK_TEST_POSTGRES
elif [ "${1:-}" = --all ] || [ ${#modules[@]} = 0 ]; then
  mapfile -t modules < <("$py" -c 'import tomllib; print(*tomllib.load(open("pyproject.toml","rb"))["tool"]["kiosk-mutation"]["tests"], sep="\n")')
fi

summary=()
for mod in "${modules[@]}"; do
  mod=${mod#kiosk/}
  [ -f "kiosk/$mod" ] || { echo "no such module: kiosk/$mod" >&2; exit 2; }
  work=$root/.mutation/${mod//\//_}
  work=${work%.py}${postgres:+_pg}
  rm -rf "$work" && mkdir -p "$work"
  cp -a kiosk tests pyproject.toml README.md "$work"/
  for d in static station_config docs/examples; do [ -e "$d" ] && mkdir -p "$work/$(dirname "$d")" && cp -a "$d" "$work/$d"; done
  find "$work" -name __pycache__ -prune -exec rm -rf {} +
  # Per module: mutate only that file, run only the tests that cover it.
  "$py" - "$work/pyproject.toml" "$mod" "$postgres" <<'PY'
import json, sys, tomllib
from pathlib import Path
path, mod, postgres = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
text = path.read_text()
table = tomllib.loads(text)["tool"]["kiosk-mutation"]
tests = table["tests"].get(mod)
if not tests:
    sys.exit(f"{mod}: no tests listed in [tool.kiosk-mutation.tests] of pyproject.toml")
if postgres:
    tests = tests + table.get("postgres-tests", {}).get(mod, [])
tests = [t for t in tests if (path.parent / t).exists()]
text = text.replace("only_mutate = []", f"only_mutate = {json.dumps(['kiosk/' + mod])}", 1)
text = text.replace('pytest_add_cli_args_test_selection = ["tests/"]',
                    f"pytest_add_cli_args_test_selection = {json.dumps(tests)}", 1)
path.write_text(text)
print(f"== kiosk/{mod}{' on PostgreSQL' if postgres else ''}: tests {' '.join(tests)}")
PY
  (cd "$work" && KIOSK_SKIP_SETUP=1 PATH="$root/.venv-test/bin:$PATH" \
     nice -n 19 "$root/.venv-test/bin/mutmut" run --max-children "${MUTATION_JOBS:-1}" "${patterns[@]}" \
     > "$work/run.log" 2>&1) || { echo "mutmut failed for $mod, see $work/run.log" >&2; tail -20 "$work/run.log" >&2; exit 1; }
  (cd "$work" && "$root/.venv-test/bin/mutmut" results --all true > results.txt 2>&1 || true)
  line=$("$py" - "$work/results.txt" "$mod${postgres:+ on PostgreSQL, only ${patterns[*]}}" "${patterns[@]}" <<'PY'
import collections, fnmatch, sys
counts = collections.Counter()
survivors = []
patterns = sys.argv[3:]
for raw in open(sys.argv[1]):
    if ":" not in raw or "__mutmut_" not in raw:
        continue
    name, status = (s.strip() for s in raw.rsplit(":", 1))
    if patterns and not any(fnmatch.fnmatch(name, p) for p in patterns):
        continue
    counts[status] += 1
    if status not in ("killed", "timeout", "caught by type check"):
        survivors.append(f"  {status}: {name}")
killed = counts["killed"] + counts["timeout"] + counts["caught by type check"]
total = sum(counts.values())
other = total - killed - counts["survived"]
score = 100.0 * killed / total if total else 0.0
print("\n".join(survivors), file=sys.stderr)
print(f"kiosk/{sys.argv[2]}: killed {killed}, survived {counts['survived']}, "
      f"other {other}, total {total}, score {score:.1f} %")
PY
)
  echo "$line"
  summary+=("$line")
done
echo
echo "== mutation scores ($(date -u +%Y-%m-%d), mutmut $("$py" -c 'import importlib.metadata as m; print(m.version("mutmut"))'))"
printf '%s\n' "${summary[@]}"
