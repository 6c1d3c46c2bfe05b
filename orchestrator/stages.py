"""The stages behind the CLI: work (trials), analyze, promote, run, history, probe.

Each takes the root config as plain dataclasses and is callable without Hydra. Every
check that can fail (the round, its promotion section, the storage URL) runs before the
store or any file is written.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
from pathlib import Path

import optuna
import yaml

from orchestrator import paths
from orchestrator.analysis.load import load_round
from orchestrator.analysis.model import Finding, StudyRecord
from orchestrator.analysis.next_round import draft_next_round, render
from orchestrator.analysis.run import analyze, format_findings, write_findings
from orchestrator.claims import claim_lock
from orchestrator.config import Config
from orchestrator.exceptions import ConfigError
from orchestrator.incumbent import atomic_write, read_incumbent, starting_config
from orchestrator.ledger import Ledger, ledger_url
from orchestrator.probe import probe_stage, validate_probe
from orchestrator.promotion import format_decision, format_history, promote
from orchestrator.report.dashboard import push_findings
from orchestrator.report.figures import axis_plot
from orchestrator.report.round_report import build_report_html, write_report
from orchestrator.roles import Round, parse_round, round_from_dict
from orchestrator.runner import (
    WorkerStats,
    config_hash,
    format_summary,
    open_studies,
    recorded_start,
    summarise,
)
from orchestrator.storage import create_storage, dispose_storage, redact
from orchestrator.train.config import ExperimentConfig, experiment_to_dict
from orchestrator.workers import run_local_workers, run_worker


def run_round_stage(root: Config, base: ExperimentConfig, round_dir: Path) -> int:
    """Dispatch stage=work | promote | run | history; returns the exit code."""
    if root.stage == "history":
        print(format_history(Ledger(ledger_url(root.storage, root.paths.studies)).decisions()))
        return 0
    if root.round is None:
        rounds = sorted(p.stem for p in round_dir.glob("*.yaml"))
        raise ConfigError(
            "round", f"stage={root.stage} needs a round: round=<name>, one of {', '.join(rounds)}"
        )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # The schema, the round's studies and the ledger exist before any worker claims a trial;
    # workers started together (multirun, several machines) take turns creating them.
    with claim_lock(root.storage, root.paths.studies, "schema"):
        rnd, start, storage = _prepare(root, base)
        ledger = Ledger(ledger_url(root.storage, root.paths.studies))
        if root.stage in ("work", "run"):
            open_studies(rnd, start, storage)  # type: ignore[arg-type]
            ledger.start_round(rnd.name, rnd.goal, _record(rnd, start, ""))
    code = 0
    if root.stage in ("work", "run"):
        code = _work(root, rnd, start, storage)
        if code == 0:
            ledger.set_round_status(rnd.name, "finished")
    if root.stage in ("analyze", "run") and code == 0:
        code = analyze_stage(root, rnd, start, storage)
    if root.stage in ("promote", "run") and code == 0:
        current = read_incumbent(root.paths.studies)
        incumbent = current.config if current is not None else start
        row = promote(
            rnd,
            start,
            incumbent,
            storage=storage,
            ledger=ledger,
            studies=root.paths.studies,
            trainer_target=root.trainer._target_,
        )
        print(format_decision(row))
        rewrite_report_with_decision(root, rnd, storage)
        if row.verdict == "promoted":
            print(f"  the next round starts from {paths.incumbent_file(root.paths.studies)}")
    ledger.dispose()
    dispose_storage(storage)  # type: ignore[arg-type]
    return code


def _prepare(root: Config, base: ExperimentConfig) -> tuple[Round, ExperimentConfig, object]:
    """Resolve the start config (the recorded one when resuming), validate, open the store."""
    assert root.round is not None
    start, origin = starting_config(root.round.start_from, base, root.paths.studies)
    parse_round(root.round, start)  # every round error before the store is touched
    storage = create_storage(root.storage)
    recorded = recorded_start(storage, root.round.name)
    if recorded is not None:  # resuming: the round keeps the config it started from
        if config_hash(recorded) != config_hash(start):
            origin = f"the config this round started from (now {origin}; a new round would use it)"
        else:
            origin = f"{origin}, as when this round started"
        start = recorded
    rnd = parse_round(root.round, start)
    rdir = paths.round_dir(root.paths.studies, rnd.name)
    rdir.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(_record(rnd, start, origin), sort_keys=False)
    (rdir / "round.yaml").write_text(text)
    where = root.storage.path if root.storage.kind == "journal" else redact(root.storage.url)
    print(f"round {rnd.name}: {rnd.goal}")
    print(f"  starting from {origin}")
    print(
        f"  {len(rnd.points())} studies x {rnd.budget.trials_per_study} trials, sampler "
        f"{rnd.budget.sampler} (seed {rnd.budget.seed}), store {where}"
    )
    return rnd, start, storage


def _record(rnd: Round, start: ExperimentConfig, origin: str) -> dict:
    return {
        "name": rnd.name,
        "goal": rnd.goal,
        "start_from": origin,
        **rnd.roles(),
        "budget": dataclasses.asdict(rnd.budget),
        "promotion": dataclasses.asdict(rnd.promotion),
        "start_config": experiment_to_dict(start),
    }


def _work(root: Config, rnd: Round, start: ExperimentConfig, storage: object) -> int:
    """This process's share of the trials: in-process (one worker, or one multirun job) or
    ``budget.workers`` local worker processes. Returns the exit code."""
    interrupted: str | None
    if root.worker is None and rnd.budget.workers > 1:
        print(f"  {rnd.budget.workers} worker processes on this machine")
        outcome = run_local_workers(
            rnd,
            start,
            storage,
            round_config=root.round,
            storage_config=root.storage,
            studies=root.paths.studies,
            trainer_target=root.trainer._target_,
            n=rnd.budget.workers,
            log_dir=_log_dir(root),
            progress=sys.stderr.isatty(),
        )
        interrupted = outcome.interrupted
        for s in outcome.stats:
            print(f"  {_stats_line(s)}")
    else:
        stats = run_worker(
            rnd,
            start,
            storage,
            storage_config=root.storage,
            studies=root.paths.studies,
            trainer_target=root.trainer._target_,
            worker=root.worker,
            progress=sys.stderr.isatty(),
        )
        interrupted = stats.interrupted
        if root.worker is not None or stats.storage_errors or stats.reaped:
            print(f"  {_stats_line(stats)}")
    summaries = [summarise(rnd, p, s) for p, s in open_studies(rnd, start, storage)]  # type: ignore[arg-type]
    print(format_summary(rnd, summaries, start.objective.metric))
    if interrupted:
        print(
            f"stopped by {interrupted}: the running trial is FAIL with the reason and queued "
            "for one retry; run the same command again to resume",
            file=sys.stderr,
        )
        return 128 + getattr(signal, interrupted, signal.SIGTERM).value
    gave_up = [s.name for s in summaries if s.finished < s.budget]
    if gave_up:
        print(
            f"unfinished: {', '.join(gave_up)} (too many failed trials, or workers died: see "
            "the log; run the same command again to resume)",
            file=sys.stderr,
        )
        return 1
    return 0


def _stats_line(s: WorkerStats) -> str:
    who = "worker" if s.worker is None else f"worker {s.worker}"
    return (
        f"{who}: {s.trials} trials, {s.reaped} dead workers' trials re-queued, "
        f"{s.storage_errors} storage errors retried"
        + (f", stopped by {s.interrupted}" if s.interrupted else "")
    )


def _log_dir(root: Config) -> Path | None:
    """The run's Hydra output directory when there is one (worker logs go there)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir)
    except (ImportError, ValueError):
        return None


def probe_once(root: Config, base: ExperimentConfig) -> int:
    """stage=probe: measure the incumbent's (or the composed) model and data per batch size."""
    validate_probe(root.probe)
    config, origin = starting_config("incumbent", base, root.paths.studies)
    print(f"probing {config.model.name} on {config.data.name} from {origin}")
    result = probe_stage(config, root.probe, root.paths.studies)
    url = ledger_url(root.storage, root.paths.studies)
    if root.storage.kind != "sqlite" or Path(url.removeprefix("sqlite:///")).exists():
        ledger = Ledger(url)  # a ledger row when the ledger exists
        ledger.record_probe(result.to_dict())
        ledger.dispose()
    return 0


def analyze_stage(root: Config, rnd: Round, start: ExperimentConfig, storage: object) -> int:
    """stage=analyze: the playbook's checks on the stored round, without training; then the
    next-round draft (validated as a round before it is written), the findings in
    optuna-dashboard, and the HTML report."""
    assert root.round is not None
    studies = load_round(rnd, storage, paths.artifacts_dir(root.paths.studies))  # type: ignore[arg-type]
    findings = analyze(studies, root.analysis)
    rdir = paths.round_dir(root.paths.studies, rnd.name)
    path = write_findings(findings, rdir / "findings.json")
    print(format_findings(findings))
    draft, reasons = draft_next_round(dataclasses.asdict(root.round), findings, len(studies))
    parse_round(round_from_dict(draft), start)  # a draft that would not load is a bug here
    atomic_write(rdir / "next_round.yaml", render(draft, reasons, f"{rnd.name}'s findings"))
    push_findings(storage, studies, rnd.goal, findings, _dashboard_figures)  # type: ignore[arg-type]
    report = write_round_report(root, rnd, studies, findings)
    print(
        f"  written to {path}; next-round draft ({len(reasons)} changes): "
        f"{rdir / 'next_round.yaml'}; report: {report}"
    )
    return 0


def _dashboard_figures(study: StudyRecord) -> dict:
    """The axis plot of each nuisance param, for the study's page in optuna-dashboard."""
    return {f"axis-{param}": axis_plot(study, param) for param in study.search_space}


def write_round_report(
    root: Config, rnd: Round, studies: list[StudyRecord], findings: list[Finding]
) -> Path:
    """``studies/<round>/report.html``, with the promotion decision once there is one."""
    ledger = Ledger(ledger_url(root.storage, root.paths.studies))
    row = ledger.decision(rnd.name)
    ledger.dispose()
    decision = None
    if row is not None:
        decision = {c.name: getattr(row, c.name) for c in row.__table__.columns}
    html_text = build_report_html(
        round_name=rnd.name,
        goal=rnd.goal,
        roles=rnd.roles(),
        studies=studies,
        findings=findings,
        decision=decision,
    )
    return write_report(paths.round_dir(root.paths.studies, rnd.name) / "report.html", html_text)


def rewrite_report_with_decision(root: Config, rnd: Round, storage: object) -> None:
    """After a decision: the report gets its decision section (findings as already written)."""
    rdir = paths.round_dir(root.paths.studies, rnd.name)
    if not (rdir / "findings.json").exists():
        return
    findings = [Finding(**f) for f in json.loads((rdir / "findings.json").read_text())]
    studies = load_round(rnd, storage, paths.artifacts_dir(root.paths.studies))  # type: ignore[arg-type]
    print(f"  report: {write_round_report(root, rnd, studies, findings)}")
