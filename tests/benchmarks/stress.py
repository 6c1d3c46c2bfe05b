"""``make stress``: the scale-out scenarios against SQLite, the journal file and PostgreSQL,
printed as one table (workers, trials, lost, duplicated points, lock errors, retries,
trials left RUNNING, wall time). Exit code 1 when any scenario failed its checks.

    uv run python -m tests.benchmarks.stress [--stores sqlite,journal,postgres]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from tests.support import scale_out as h

SCENARIOS = ("load", "sigkill", "sigterm", "multirun")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default=",".join(h.STORES))
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--workers", type=int, default=8, help="load: worker processes")
    parser.add_argument("--per-worker", type=int, default=50, help="load: trials per worker")
    args = parser.parse_args()
    header = ("store", "scenario", "workers", "trials", "lost", "duplicated", "lock errors",
              "retries", "left RUNNING", "wall s", "ok")  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    failed = False
    for kind in args.stores.split(","):
        if kind == "postgres" and (reason := h.postgres_unavailable()):
            print(f"| postgres | - | - | - | - | - | - | - | - | - | skipped: {reason} |")
            continue
        for scenario in args.scenarios.split(","):
            work = Path(tempfile.mkdtemp(prefix=f"stress-{kind}-{scenario}-"))
            store = h.make_store(kind, work)
            try:
                if scenario == "load":
                    row = h.load(store, args.workers, args.per_worker)[0]
                else:
                    row = getattr(h, scenario)(store)[0]
            finally:
                store.drop()
                shutil.rmtree(work, ignore_errors=True)
            failed |= not row.ok
            cells = (row.store, row.scenario, row.workers, row.trials, row.lost, row.duplicated,
                     row.lock_errors, row.retries, row.running_left, f"{row.wall_s:.1f}",
                     "yes" if row.ok else "NO")  # fmt: skip
            print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
