"""Who runs a trial, and whether that process is still alive: the retry of killed trials.

Optuna's heartbeat finds a killed worker's trial only after the grace period, and only on
RDB storages: Optuna 5's journal storage has none, so a SIGKILLed worker's trial would stay
RUNNING for ever (reliability.md 1.2). Each trial therefore records its owner (host, boot
id, pid and the process's start time, which tells a reused pid apart) as the ``worker``
user attribute. Any worker on the same machine that finds a RUNNING trial whose owner is
gone fails it with the reason and enqueues one retry with the same parameters, exactly as
Optuna's ``RetryHeartbeatStaleTrialCallback(max_retry=1)`` would. Owners on other machines
are left to the heartbeat (PostgreSQL). Callers hold the round's claim lock, so two
workers never reap the same trial.
"""

from __future__ import annotations

import os
import socket
from functools import cache
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from orchestrator.rounds.point_index import RETRY_OF, point_index
from orchestrator.store.record import RETRIED, TrialAttr, TrialSystemAttr


@cache
def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22);
    None when no such process runs (a zombie, killed but not yet waited for, counts as gone).
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the fields after the command name
    return None if fields[0] in ("Z", "X") else fields[19]


def owner(worker: int | None) -> dict[str, Any]:
    """This process as a trial's owner."""
    pid = os.getpid()
    return {
        "host": socket.gethostname(),
        "boot": _boot_id(),
        "pid": pid,
        "start": _start_time(pid),
        "index": worker,
    }


def is_dead(record: Any) -> bool:
    """True when ``record`` names a process on this machine that no longer runs.

    Unknown owners and owners on other machines are never declared dead here.
    """
    if not isinstance(record, dict) or record.get("host") != socket.gethostname():
        return False
    if record.get("boot") != _boot_id():
        return True  # this machine rebooted since the trial started
    pid = record.get("pid")
    if not isinstance(pid, int):
        return False
    started = _start_time(pid)
    return started is None or started != record.get("start")


def reap_dead_trials(
    study: optuna.Study, storage: optuna.storages.BaseStorage, running: list[FrozenTrial]
) -> int:
    """Fail the RUNNING trials of dead local owners, each retried once; returns how many."""
    reaped = 0
    for trial in running:
        record = trial.user_attrs.get(TrialAttr.OWNER) or {}
        if trial.state != TrialState.RUNNING or not is_dead(record):
            continue
        reason = (
            f"worker {record.get('index')} (pid {record.get('pid')} on {record.get('host')}) "
            f"died while running this trial (killed?); {RETRIED} with the same parameters"
        )
        try:
            storage.set_trial_user_attr(trial._trial_id, TrialAttr.ERROR, reason)
            if not storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                continue
        except UpdateFinishedTrialError:
            continue  # finished or failed meanwhile (the heartbeat got there first)
        retry_once(study, storage.get_trial(trial._trial_id))
        reaped += 1
    return reaped


def retry_once(
    study: optuna.Study, failed: FrozenTrial, *, interrupted: bool = False, again: bool = False
) -> None:
    """Enqueue the failed trial's parameters again unless it already was a retry.

    The same record as Optuna's ``RetryHeartbeatStaleTrialCallback(max_retry=1)``
    (``failed_trial``, ``retry_history``), without the dead trial's user attributes: its
    ``error`` and ``worker`` must not appear on the retry. The retry carries the failed
    trial's point index (``rounds/point_index.py``), so the next fresh trial takes the next
    unused point rather than skipping one. ``interrupted``: the trial was
    stopped from outside (a SLURM job requeued or preempted, a signal), so it is queued
    again however often that happens and is left out of the history: a later failure of
    its own still gets its one retry. ``again``: a given-up study run again queues its failed
    points once more, whatever their history (``give_up.py``).
    """
    earlier = [] if again else list(failed.system_attrs.get("retry_history", []))
    history = earlier if interrupted else [*earlier, failed.number]
    if len(history) > 1:
        return
    system_attrs = {**failed.system_attrs, RETRY_OF: failed.number}
    system_attrs[TrialSystemAttr.POINT_INDEX] = point_index(failed)  # the same point
    system_attrs["retry_history"] = history
    study.add_trial(
        optuna.create_trial(
            state=TrialState.WAITING,
            params=failed.params,
            distributions=failed.distributions,
            system_attrs=system_attrs,
        )
    )
