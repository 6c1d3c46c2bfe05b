#!/usr/bin/env bash
# Start-up of a command that trains nothing: `python -m orchestrator stage=history` (an
# empty ledger) from checkout ROOT, 6 runs, the first dropped, the median of the other 5.
# Usage: tests/benchmarks/startup_time.sh ROOT [PYTHON]   (PYTHON: this venv's by default)
# Compare two checkouts (e.g. `git worktree add /tmp/old <rev>`) with the same PYTHON.
set -euo pipefail
root=$(cd "$1" && pwd)
python=${2:-$(cd "$(dirname "$0")/../.." && pwd)/.venv/bin/python}
studies=$(mktemp -d)
trap 'rm -rf "$studies"' EXIT
cd "$root"
for _ in 1 2 3 4 5 6; do
  start=$(date +%s.%N)
  PYTHONPATH=$root "$python" -m orchestrator stage=history "paths.studies=$studies" \
    "storage.url=sqlite:///$studies/t.db" >/dev/null 2>&1
  end=$(date +%s.%N)
  echo "$end - $start" | bc
done | tail -5 | sort -n | sed -n 3p
