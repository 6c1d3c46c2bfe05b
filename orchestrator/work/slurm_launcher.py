"""Hydra's submitit SLURM launcher, made to fail where people look (``hydra/launcher=slurm``).

What it changes in ``hydra_plugins.hydra_submitit_launcher``'s ``SlurmLauncher``:

- Before submitting, the request is checked against ``sinfo`` (``slurm_resources.py``): a
  job no partition can run is one ``error:`` line and exit 2, not a job PENDING for ever
  or a traceback around ``sbatch``'s message.
- In the job, a failed task (the store unreachable, every trial failed, any error the
  orchestrator turns into a non-zero code) is raised out of the job after its reason is
  logged, so the job's process exits non-zero and SLURM records it FAILED. Hydra's
  ``run_job`` would otherwise catch it into the job's result and the job would end
  ``COMPLETED 0:0`` with nothing in its log.
- In the submitting process, the round's progress is followed in the store while the jobs
  run (``round_progress.py``), and each job's result is collected on its own: one failed
  or cancelled job does not stop the command from waiting for the others; each failed job
  is one ``error:`` line with its reason and log, and the command exits 1.
- A job that SLURM requeued (time limit, preemption, ``scontrol requeue``) is waited for
  until the run that follows ends, even when its interrupted run left a result.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
    SlurmLauncher as SubmititSlurmLauncher,
)
from omegaconf import OmegaConf, open_dict

from orchestrator.store.redaction import redact_text
from orchestrator.work.slurm_resources import read_partitions, request_from, unsatisfiable

if TYPE_CHECKING:  # imported when used: Hydra imports this module at every start
    from orchestrator.work.round_progress import ProgressFollower

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0  # between looks at the jobs and the store while waiting
REQUEUED_OR_RUNNING = frozenset(
    {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RUNNING", "COMPLETING",
     "CONFIGURING", "SUSPENDED", "PREEMPTED", "RESIZING"}
)  # fmt: skip


class SlurmJobFailed(RuntimeError):
    """In a job: its task failed with a result that is not an exception to re-raise."""


class SlurmLauncher(SubmititSlurmLauncher):
    """``hydra/launcher=slurm``: see the module docstring."""

    def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:
        """In the job: run it; a failure is logged and raised (the job exits non-zero)."""
        ret: JobReturn = super().__call__(*args, **kwargs)
        if ret.status == JobStatus.FAILED:
            err = ret._return_value
            reason = redact_text(str(err))
            print(f"error: {reason}", file=sys.stderr, flush=True)  # the launcher reads it back
            if isinstance(err, BaseException):
                raise err
            raise SlurmJobFailed(reason)
        return ret

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        """Check the request, submit one array task per job, wait for every one of them."""
        assert self.config is not None
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        problem = _check_request(self.params)
        if problem is not None:
            _remove_new_sweep_dir(sweep_dir)
            print(f"error: {problem}", file=sys.stderr)
            sys.exit(2)  # before Hydra's error report: one line, nothing submitted
        jobs = self._submit(job_overrides, initial_job_idx, sweep_dir)
        follower = self._follower(job_overrides[0])
        try:
            _wait(jobs, follower)
        finally:
            if follower is not None:
                follower.close()
        results = [_result(job) for job in jobs]
        failed = [reason for reason in results if isinstance(reason, str)]
        for reason in failed:
            print(f"error: {redact_text(reason)}", file=sys.stderr)
        if failed:  # as Hydra would after this batch, without a traceback around the reasons
            print(
                f"{len(failed)} of {len(jobs)} SLURM jobs failed; the store keeps every finished "
                "trial: do what each reason above asks, then run the same command again to "
                "resume",
                file=sys.stderr,
            )
            sys.exit(1)
        return [r for r in results if isinstance(r, JobReturn)]

    def _submit(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int, sweep_dir: Path
    ) -> list[Any]:
        """Submit the jobs as one SLURM array, as Hydra's launcher does; submitit's jobs."""
        import submitit

        assert self.config is not None
        executor = submitit.AutoExecutor(
            cluster=self._EXECUTOR,
            folder=self.params["submitit_folder"],
            slurm_max_num_timeout=self.params.get("max_num_timeout", 0),
        )
        executor.update_parameters(**_executor_parameters(self.params, self._EXECUTOR))
        log.info(f"Submitit '{self._EXECUTOR}' sweep output dir : {sweep_dir}")
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            os.chmod(sweep_dir, mode=int(str(self.config.hydra.sweep.mode), 8))
        job_params = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            job_params.append(
                (list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}",
                 Singleton.get_state())
            )  # fmt: skip
        jobs: list[Any] = executor.map_array(self, *zip(*job_params, strict=True))
        array = jobs[0].job_id.split("_")[0]
        log.info(f"SLURM job {array}: {len(jobs)} tasks, logs in {jobs[0].paths.folder.parent}")
        return jobs

    def _follower(self, overrides: Sequence[str]) -> ProgressFollower | None:
        """What follows the round in the store while the jobs run: the first job's round and
        store (every job of a worker sweep has the same), or None when it runs no round."""
        from orchestrator.config.schema import root_from_cfg
        from orchestrator.work.round_progress import ProgressFollower

        assert self.hydra_context is not None and self.config is not None
        try:
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(cfg):  # the run's own keys only (Hydra's are set in each job)
                del cfg["hydra"]
            root = root_from_cfg(cfg)
        except Exception as err:  # noqa: BLE001 - the jobs report a bad config themselves
            log.debug("no progress: %s", err)
            return None
        if root.round is None or root.stage not in ("work", "run"):
            return None
        return ProgressFollower(root.storage, root.round.name)


def _wait(jobs: list[Any], follower: ProgressFollower | None) -> None:
    """Until every job has ended for good, show the round's progress each time it changes."""
    while not all(_ended(job) for job in jobs):
        if follower is not None:
            follower.poll()
        time.sleep(POLL_SECONDS)
        jobs[0].watcher.update()  # one sacct call for the array (submitit's own: up to 60 s)
    if follower is not None:
        follower.poll()


def _ended(job: Any) -> bool:
    """Ended for good: a result is there (submitit's test) and SLURM does not list the job
    as requeued or running again. A job requeued by its time limit, preemption or
    ``scontrol requeue`` can leave the result of its interrupted run (the stop signal came
    before the requeue finished): the command waits for the run that follows."""
    state = str(job.state).split(" ")[0].upper()  # "CANCELLED by 0", "UNKNOWN" without sacct
    return bool(job.done()) and state not in REQUEUED_OR_RUNNING


def _check_request(params: dict[str, Any]) -> str | None:
    """Why no partition can run one job of this request, or None (or no ``sinfo`` here)."""
    partitions = read_partitions()
    if partitions is None:
        return None
    return unsatisfiable(request_from(params), partitions)


def _remove_new_sweep_dir(sweep_dir: Path) -> None:
    """A rejected sweep leaves nothing behind: Hydra wrote ``multirun.yaml`` into its
    directory before calling the launcher; remove both when nothing else is there."""
    if sweep_dir.is_dir() and [p.name for p in sweep_dir.iterdir()] == ["multirun.yaml"]:
        (sweep_dir / "multirun.yaml").unlink()
        sweep_dir.rmdir()


def _executor_parameters(params: dict[str, Any], cluster: str) -> dict[str, Any]:
    """The launcher's keys as submitit's executor names them (as Hydra's launcher does)."""
    shared = set(OmegaConf.structured(BaseQueueConf).keys())
    init = {"submitit_folder", "max_num_timeout"}
    return {
        key if key in shared else f"{cluster}_{key}": value
        for key, value in params.items()
        if key not in init
    }


def _result(job: Any) -> JobReturn | str:
    """The job's result, or why it has none (failed, cancelled, lost): the reason the job
    logged, else submitit's, with the job's log to read."""
    try:
        result: JobReturn = job.results()[0]
    except Exception:  # noqa: BLE001 - submitit's FailedJobError, UncompletedJobError
        # submitit's messages name the result file it misses: the job's log says why
        reason = _logged_reason(Path(job.paths.stderr)) or f"ended {job.state} without a result"
        return f"SLURM job {job.job_id}: {reason} (its log: {job.paths.stderr})"
    if result.status == JobStatus.FAILED:  # a task that failed without raising out of its job
        return f"SLURM job {job.job_id}: {result._return_value}"
    return result


def _logged_reason(log_file: Path) -> str | None:
    """The job's own reason, from its log: the work stage's verdict (``unfinished: ...``,
    ``stopped by ...``) when it printed one, else its last ``error:`` line."""
    try:
        lines = log_file.read_text(errors="replace").splitlines()
    except OSError:
        return None
    verdicts = [line.strip() for line in lines if line.startswith(("unfinished: ", "stopped by "))]
    if verdicts:  # one per unfinished study: the first, and how many more the log holds
        more = len(verdicts) - 1
        return verdicts[0] + (f" (and {more} more such lines in its log)" if more else "")
    errors = [line.removeprefix("error: ").strip() for line in lines if line.startswith("error: ")]
    return errors[-1] if errors else None
