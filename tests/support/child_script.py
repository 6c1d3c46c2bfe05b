"""A command trainer for the tests: ``python child_script.py --mode MODE --x X ...``.

Reports ``loss = (x - 0.3)^2 + 1/step`` per step through ``trial_report`` (or prints the
JSON lines itself with ``--mode stdout``), and misbehaves on demand. It writes its pid
(and its own child's) into ``--pids`` so a test can check that none is left running.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from trial_report import final, report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="ok")
    parser.add_argument("--x", type=float, default=0.5)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pids", default="")
    parser.add_argument("--delay", type=float, default=0.0)  # seconds per step
    args = parser.parse_args()
    seed, trial = os.environ.get("ORCHESTRATOR_SEED"), os.environ.get("ORCHESTRATOR_TRIAL")
    print(f"seed env={seed} trial={trial}", file=sys.stderr, flush=True)
    if args.pids:
        pids = Path(args.pids)
        pids.mkdir(parents=True, exist_ok=True)
        (pids / f"{os.getpid()}.child").touch()
        hangs = args.mode == "hang" or (args.mode == "hang_reruns" and args.seed > 0)
        if hangs or args.mode in ("spawn", "ignore_stop"):  # a grandchild in the same group
            sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            (pids / f"{sleeper.pid}.grandchild").touch()
    if args.mode == "fail":
        print("Traceback (most recent call last):\nValueError: bad batch", file=sys.stderr)
        sys.exit(3)
    if args.mode == "silent":
        print("training... done")
        return
    if args.mode == "hang" or (args.mode == "hang_reruns" and args.seed > 0):
        time.sleep(600)  # hang_reruns: the round's trials (seed 0) finish, reruns hang
    if args.mode == "ignore_stop":
        import signal

        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for step in range(1, args.steps + 1):
        loss = (args.x - 0.3) ** 2 + 1.0 / step
        if args.mode == "stdout":
            print(f'{{"step": {step}, "loss": {loss}}}', flush=True)
            continue
        stop = report(step, loss=loss, lr=args.x)
        if stop and args.mode != "ignore_stop":
            print(f"stopping at step {step}", file=sys.stderr)
            return
        time.sleep(args.delay)
    if args.mode == "stdout":
        print(f'{{"loss": {(args.x - 0.3) ** 2}}}')
    elif args.mode == "final":
        final(loss=-1.0)


if __name__ == "__main__":
    main()
