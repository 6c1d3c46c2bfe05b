"""What every round stage (work, analyze, promote, run) starts from: the round opened.

Every check that can fail (the round, its promotion section, the storage URL) runs
before the store or any file is written. When resuming, the round keeps the config it
started from. The schema, the round's studies and the ledger exist before any worker
claims a trial; workers started together (multirun, several machines) take turns
creating them under the ``schema`` claim lock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import optuna
import yaml

from orchestrator.config.experiment import Experiment
from orchestrator.config.round import RoundConfig
from orchestrator.config.schema import Config, round_names
from orchestrator.config.trainer_settings import selection_hint, settings_of_identity
from orchestrator.config.yaml_files import read_yaml
from orchestrator.exceptions import ConfigError
from orchestrator.rounds.check_needs import short_budget_warning
from orchestrator.rounds.identity import check_same_round, round_identity
from orchestrator.rounds.pruning import pruning_warning
from orchestrator.rounds.space import Round
from orchestrator.rounds.validate import parse_round, range_params
from orchestrator.stages.preflight import check_before_trials
from orchestrator.store import paths
from orchestrator.store.incumbent import starting_config
from orchestrator.store.ledger import Ledger, ledger_url
from orchestrator.store.record import config_hash
from orchestrator.store.redaction import redact
from orchestrator.store.storage import opened_storage
from orchestrator.trainers.cache import TrainerCache
from orchestrator.work.carry import carried_count
from orchestrator.work.claims import claim_lock
from orchestrator.work.studies import open_studies, recorded_identity, recorded_start


@dataclass(frozen=True)
class RoundContext:
    """An opened round: its config, the validated round, its start config, store and ledger."""

    root: Config
    rnd: Round
    start: Experiment
    storage: optuna.storages.BaseStorage
    ledger: Ledger
    # What this process's trials keep between them: the work stage's in-process worker
    # and the promotion reruns of ``stage=run`` share it (data loaded once, graphs warm).
    cache: TrainerCache = field(default_factory=TrainerCache)

    @property
    def studies(self) -> str:
        return self.root.paths.studies


RoundStep = Callable[[RoundContext], int]


def run_round_steps(
    root: Config, base: Experiment, steps: list[RoundStep], *, starts_work: bool
) -> int:
    """Open the round, run ``steps`` in order while each returns 0; the first other code.

    ``starts_work``: the round's studies and ledger row are created (work, run).
    """
    with opened_round(root, base, starts_work=starts_work) as ctx:
        for step in steps:
            code = step(ctx)
            if code:
                return code
    return 0


@contextmanager
def opened_round(root: Config, base: Experiment, *, starts_work: bool) -> Iterator[RoundContext]:
    """The round checked and its store open (closed on every way out)."""
    if root.round is None:
        rounds = ", ".join(round_names(base.builtin)) or "none yet: add round/<name>.yaml"
        raise ConfigError(
            "round", f"stage={root.stage} needs a round: round=<name>, one of {rounds}"
        )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trains = starts_work or root.stage == "promote"
    check_before_trials(root, base, trains=trains)  # the seed key, the incumbent's trainer
    rnd, start, origin = _checked_round(root, base, trains)  # before anything is written
    cache = TrainerCache()  # this process's trials share it (an app composed once)
    if starts_work:  # the trainer importable and fitting, an app composed, a command found
        cache.ready(start)
    with ExitStack() as stack:
        with claim_lock(root.storage, root.paths.studies, "schema"):
            storage = stack.enter_context(opened_storage(root.storage))
            rnd, start, origin = _resumed(root, storage, (rnd, start, origin), trains, starts_work)
            _announce(root, rnd, start, origin)
            ledger = stack.enter_context(Ledger(ledger_url(root.storage, root.paths.studies)))
            if starts_work:
                _announce_carried(open_studies(rnd, start, storage))
                ledger.start_round(rnd.name, rnd.goal, round_record(rnd, start, ""))
        yield RoundContext(root, rnd, start, storage, ledger, cache)


def _checked_round(root: Config, base: Experiment, trains: bool) -> tuple[Round, Experiment, str]:
    """The start config (incumbent or base) and the round validated against it."""
    assert root.round is not None
    start, origin = starting_config(root.round.start_from, base, root.paths.studies, trains=trains)
    return _parsed(root, root.round, start), start, origin


def _parsed(root: Config, raw: RoundConfig, start: Experiment) -> Round:
    return parse_round(raw, start, min_trials_per_param=root.analysis.min_trials_per_param)


def _resumed(
    root: Config,
    storage: Any,
    opened: tuple[Round, Experiment, str],
    trains: bool,
    starts_work: bool,
) -> tuple[Round, Experiment, str]:
    """When the round was started before, it keeps the config (and trainer) it started
    from; training it with another trainer is refused.

    Its budget is the one its studies recorded: always for the stages that run no trials
    (analyze, promote), so a round run with ``round.budget.trials_per_study=N`` (a SLURM
    sweep, a multirun) is analysed as it ran without repeating the override; for work,
    when the round file leaves the budget unset (a budget given now extends the round)."""
    assert root.round is not None
    rnd, start, origin = opened
    found = recorded_start(storage, rnd.name)
    if found is None:
        _check_identity(root, storage, rnd, start)  # a round.yaml left without studies
        return rnd, start, origin
    tree, trainer, trials = found
    other_trainer = trainer is not None and trainer != start.trainer
    if trainer is not None and other_trainer and not trains:  # (narrows trainer for mypy)
        as_trained = settings_of_identity(trainer)  # analysis: as it was trained
        start = dataclasses.replace(start, trainer_settings=as_trained)
    recorded = start.with_tree(tree)
    if config_hash(recorded) != config_hash(start):
        origin = f"the config this round started from (now {origin}; a new round would use it)"
    else:
        origin = f"{origin}, as when this round started"
    raw = root.round
    as_begun = raw.budget.trials_per_study is None or not starts_work
    if as_begun and isinstance(trials, int):  # its budget as begun
        raw = dataclasses.replace(
            raw, budget=dataclasses.replace(raw.budget, trials_per_study=trials)
        )
    resumed = _parsed(root, raw, recorded)
    _check_identity(root, storage, resumed, recorded)  # the trainer too, when it trains
    if other_trainer and trains:  # a store whose studies recorded a trainer and no identity
        raise ConfigError(
            "trainer._target_",
            f"round {rnd.name} was started with trainer {trainer}, not {start.trainer};"
            f" finish it with {selection_hint(str(trainer))}, or name the round anew"
            " (round.name=...)",
        )
    return resumed, recorded, origin


def _check_identity(root: Config, storage: Any, rnd: Round, start: Experiment) -> None:
    """The round is resumed as it was started, or refused before anything is written: its
    identity (``rounds/identity.py``) from its studies, else from its ``round.yaml``."""
    record = paths.round_dir(root.paths.studies, rnd.name) / "round.yaml"
    stored = recorded_identity(storage, rnd.name)
    if stored is None and record.exists():
        saved = read_yaml(record)
        stored = saved.get("identity") if isinstance(saved, dict) else None
    check_same_round(rnd.name, stored, round_identity(rnd, start), str(record))


def _announce(root: Config, rnd: Round, start: Experiment, origin: str) -> None:
    """``studies/<round>/round.yaml`` (the round as run) and the round's header."""
    rdir = paths.round_dir(root.paths.studies, rnd.name)
    rdir.mkdir(parents=True, exist_ok=True)
    (rdir / "round.yaml").write_text(
        yaml.safe_dump(round_record(rnd, start, origin), sort_keys=False)
    )
    where = root.storage.path if root.storage.kind == "journal" else redact(root.storage.url)
    print(f"round {rnd.name}: {rnd.goal}")
    print(f"  starting from {origin}")
    print(f"  {start.header()}")
    pruner = "" if rnd.budget.pruner == "none" else f", pruner {rnd.budget.pruner}"
    print(
        f"  {len(rnd.points())} studies x {rnd.trials_per_study} trials, sampler "
        f"{rnd.budget.sampler} (seed {rnd.budget.seed}){pruner}, store {where}"
    )
    warning = pruning_warning(rnd.budget, bool(rnd.scientific))
    if warning:
        print(f"  {warning}")
    short = short_budget_warning(
        rnd.trials_per_study,
        len(rnd.nuisance),
        range_params(rnd.nuisance),
        root.analysis.min_trials_per_param,
    )
    if short and rnd.budget.sampler != "grid":
        print(f"  {short}")


def _announce_carried(studies: list[tuple[dict[str, Any], optuna.Study]]) -> None:
    """The header's line on the earlier trials each study started from (``work/carry.py``)."""
    carried = {study.study_name: carried_count(study) for _, study in studies}
    if any(carried.values()):
        each = ", ".join(f"{name} {n}" for name, n in carried.items())
        print(
            f"  carried over {sum(carried.values())} earlier trials that fit this round's "
            f"space and fixed values ({each}): the sampler starts from them, the budget and "
            "the candidate are this round's own trials"
        )


def round_record(rnd: Round, start: Experiment, origin: str) -> dict[str, Any]:
    """The round as plain data (``round.yaml``, the ledger's round row)."""
    return {
        "name": rnd.name,
        "goal": rnd.goal,
        "start_from": origin,
        **rnd.roles(),
        "budget": dataclasses.asdict(rnd.budget),
        "promotion": dataclasses.asdict(rnd.promotion),
        "trainer": start.trainer,
        "start_config": dict(start.tree),
        "identity": round_identity(rnd, start),
    }
