#!/usr/bin/env bash
# Runs the journeys that port third-party projects (tests/journeys/port-sources.toml names each source: repository,
# commit, paths, rewrite). Their code is not committed here: each journey copies it out of the checkouts given into
# its own temporary folder, outside this repository, rewrites only what the table says, and runs it against stepfn
# with the journey's adapters (stepfn serve, local data stand-ins, its own assertions). Without the checkouts
# (`make test`) these journeys skip.
# Usage: scripts/ported-suites.sh /path/to/checkouts [tests/journeys/FILE...] [pytest args...]
#   /path/to/checkouts holds <owner>+<name>/repo for each repository of the table, a git directory (bare or not)
#   that has the commit named. With journey files named, only those run (they are slow: minutes each).
set -euo pipefail
[[ $# -ge 1 && -d "$1" ]] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
sources=$(cd "$1" && pwd); shift
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
journeys=()
while [[ $# -gt 0 && -f "$1" ]]; do journeys+=("$1"); shift; done
[[ ${#journeys[@]} -gt 0 ]] || mapfile -t journeys < <(grep -l '^from port_sources import' tests/journeys/test_*.py)
# Framework jobs build their image's environment once (minutes); STEPFN_TEST_ENV_DIR reuses one already built.
STEPFN_PORT_SOURCES=$sources PYTHONPATH="$repo/src${PYTHONPATH:+:$PYTHONPATH}" \
    "${PYTHON:-$repo/.venv/bin/python}" -m pytest "${journeys[@]}" -p no:cacheprovider -n 0 "$@"
