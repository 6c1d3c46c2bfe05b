"""The command line as a user runs it: compose, validate, train once, keep the files."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import yaml
from hydra import compose, initialize_config_dir

from orchestrator.config.round import round_from_dict
from orchestrator.config.schema import (
    CONF_DIR,
    STAGES,
    register_configs,
    root_from_cfg,
)
from orchestrator.exceptions import ConfigError
from orchestrator.rounds.validate import parse_round
from orchestrator.trainers.configured import experiment_from_cfg
from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "data.num_examples=600",
    "data.val_size=200",
    "data.image_size=16",
    "model.width=8",
    "train.steps=20",
    "train.eval_every=10",
]


def compose_cfg(*overrides: str):
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


GROUP_OPTIONS = sorted(
    (group.name, option.stem)
    for group in CONF_DIR.iterdir()
    if group.is_dir()
    for option in group.glob("*.yaml")
)


@pytest.mark.parametrize(("group", "option"), GROUP_OPTIONS)
def test_every_config_group_option_composes_and_validates(group, option):
    cfg = compose_cfg(f"{group}={option}")
    experiment = experiment_from_cfg(cfg)
    root = root_from_cfg(cfg)
    if group == "round":
        assert parse_round(root.round, experiment).name == option
    elif group == "analysis":
        assert root.analysis.boundary_margin == 0.1
    elif group == "probe":
        assert root.probe.max_batch_size == 512 and not root.probe.apply
    elif group == "storage":
        assert root.storage.kind in ("sqlite", "journal", "rdb")
    elif group != "train":
        assert experiment.get(f"{group}.name") in (option, option.removeprefix("warmup_"))


def test_the_default_composition_is_the_playbook_initial_configuration():
    e = experiment_from_cfg(compose_cfg()).as_builtin()
    assert (e.model.name, e.model.use_dropout) == ("cnn", False)
    assert (e.optimizer.name, e.optimizer.weight_decay) == ("sgd", 0.0)
    assert (e.schedule.name, e.schedule.warmup_steps) == ("constant", 0)
    assert e.data.name == "synthetic" and e.train.batch_size == 64


def test_invalid_value_after_composition_names_the_key():
    with pytest.raises(ConfigError, match=r"^optimizer.lr: must be a finite number > 0"):
        experiment_from_cfg(compose_cfg("optimizer.lr=-1"))


def run_dirs(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "logs" / "train").glob("*")) if (tmp_path / "logs").exists() else []


def test_stage_train_prints_the_metrics_and_keeps_result_config_and_curves(tmp_path):
    proc = run_cli(tmp_path, "stage=train", *TINY)
    assert proc.returncode == 0, proc.stderr
    summary = [line for line in proc.stdout.splitlines() if line.startswith("val_loss=")]
    assert summary and "val_error=" in summary[0] and "best_step=" in summary[0]
    (run_dir,) = run_dirs(tmp_path)
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "completed" and result["steps"] == 20
    assert f"best_step={result['best_step']}" in summary[0]
    assert "model:" in (run_dir / "experiment.yaml").read_text()
    html = (run_dir / "curves.html").read_text()
    assert "Plotly.newPlot" in html and "<script src=" not in html  # inlined: works offline
    log = (run_dir / "cli.log").read_text()
    assert "step 10: val_loss=" in log and "step 20: val_loss=" in log  # metrics on disk too


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("optimizer.lr=-0.5", "optimizer.lr"),
        ("model.activation=swish", "model.activation"),
        ("model.depth=0", "model.depth"),
    ],
)
def test_a_bad_value_is_one_error_naming_the_key_and_writes_nothing(tmp_path, override, key):
    proc = run_cli(tmp_path, "stage=train", override)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip().splitlines()[0]]
    assert proc.stderr.startswith(f"error: {key}: ")
    assert "Traceback" not in proc.stderr
    assert run_dirs(tmp_path) == []


@pytest.mark.parametrize(
    ("override", "expected"),
    [("model.depht=3", "depht"), ("model.depth=three", "model.depth")],
)
def test_unknown_keys_and_wrong_types_are_refused_by_the_schema(tmp_path, override, expected):
    proc = run_cli(tmp_path, "stage=train", override)
    assert proc.returncode != 0
    assert expected in proc.stderr and "Traceback" not in proc.stderr
    assert run_dirs(tmp_path) == []


def test_a_plugged_in_trainer_returning_a_dict_is_accepted(tmp_path):
    proc = run_cli(
        tmp_path,
        "stage=train",
        "trainer._target_=tests.support.trainers.analytic",
        "optimizer.lr=0.3",
    )
    assert proc.returncode == 0, proc.stderr
    assert "best_val_error=0.22 " in proc.stdout  # |0.3 - 0.1| + 0.01 * depth 2


def test_a_trainer_breaking_the_contract_fails_loudly(tmp_path):
    proc = run_cli(tmp_path, "stage=train", "trainer._target_=tests.support.trainers.broken")
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        "error: trainer tests.support.trainers.broken: trainer result objective"
    )
    assert "Traceback" not in proc.stderr and run_dirs(tmp_path) == []


def test_an_unknown_stage_is_refused(tmp_path):
    proc = run_cli(tmp_path, "stage=tune")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: stage: must be one of {', '.join(STAGES)}; got 'tune'")
    assert "probe" in STAGES and "train" in STAGES


def test_a_round_stage_without_a_round_names_the_choices(tmp_path):
    proc = run_cli(tmp_path, "stage=run")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: round: stage=run needs a round: round=<name>, one of")
    assert "round_1, round_2, round_3, round_4" in proc.stderr


ANALYTIC_ROUND = [
    "round=round_1",
    "trainer._target_=tests.support.trainers.analytic",
    "round.budget.trials_per_study=2",
]


def test_a_round_runs_and_prints_the_per_study_answer(tmp_path):
    proc = run_cli(tmp_path, *ANALYTIC_ROUND)
    assert proc.returncode == 0, proc.stderr
    for depth in (1, 2, 3):
        assert f"round_1/model.depth={depth}" in proc.stdout
    assert proc.stdout.count(" 2/2 ") == 3
    saved = (tmp_path / "round_1" / "round.yaml").read_text()
    assert "goal: Does a deeper CNN lower validation error?" in saved
    assert "start_config:" in saved
    findings = json.loads((tmp_path / "round_1" / "findings.json").read_text())
    kinds = {f["kind"] for f in findings}
    assert "comparison" in kinds  # the isolation view is always there
    assert proc.stdout.index("findings (") < proc.stdout.index("promotion of round_1")
    # the answer comes first: the question, the ranking, then the full findings table
    answer = proc.stdout.index("answer: Does a deeper CNN lower validation error?")
    assert (
        answer < proc.stdout.index("  ranking by best val_error") < proc.stdout.index("findings (")
    )
    assert "  promotion: not decided yet" in proc.stdout


RACE = [
    "round=round_1",
    "trainer._target_=tests.support.trainers.depth_1_far_behind",
    "round.budget.trials_per_study=8",
]


def test_a_value_clearly_behind_stops_at_half_its_budget_and_says_so(tmp_path):
    proc = run_cli(tmp_path, *RACE, "stage=work")
    assert proc.returncode == 0, proc.stderr  # a stopped study is not an unfinished one
    assert "  racing: round_1/model.depth=1 stops after 4 trials: its best 10" in proc.stdout
    assert "stopped early (racing): round_1/model.depth=1 after 4 trials" in proc.stdout
    store = f"sqlite:///{tmp_path}/tuning.db"

    def counts() -> dict[int, int]:
        names = {d: f"round_1/model.depth={d}" for d in (1, 2, 3)}
        return {
            d: len(optuna.load_study(study_name=n, storage=store).trials) for d, n in names.items()
        }

    assert counts() == {1: 4, 2: 8, 3: 8}
    for depth in (1, 2, 3):  # the first half never changed the round's recorded budget
        study = optuna.load_study(study_name=f"round_1/model.depth={depth}", storage=store)
        assert study.user_attrs["trials_per_study"] == 8
    again = run_cli(tmp_path, *RACE, "stage=work")  # resumed: the same decision, nothing run
    assert again.returncode == 0, again.stderr
    assert counts() == {1: 4, 2: 8, 3: 8}
    analyzed = run_cli(tmp_path, *RACE, "stage=analyze")
    assert "(stopped early: clearly behind)" in analyzed.stdout
    assert "was stopped at half its budget by racing" in analyzed.stdout
    off = run_cli(tmp_path / "off", *RACE, "round.budget.racing=false", "stage=work")
    assert off.returncode == 0 and "racing" not in off.stdout


def test_stage_analyze_rechecks_a_round_without_training(tmp_path):
    assert run_cli(tmp_path, *ANALYTIC_ROUND).returncode == 0
    db_trials = (tmp_path / "tuning.db").stat().st_size
    (tmp_path / "round_1" / "findings.json").unlink()
    proc = run_cli(tmp_path, "stage=analyze", "round=round_1")
    assert proc.returncode == 0, proc.stderr
    assert "findings (" in proc.stdout and (tmp_path / "round_1" / "findings.json").exists()
    assert "  promotion: " in proc.stdout and "not decided yet" not in proc.stdout  # decided
    assert (tmp_path / "tuning.db").stat().st_size == db_trials  # nothing trained or stored
    draft = yaml.safe_load((tmp_path / "round_1" / "next_round.yaml").read_text())
    assert draft["name"] == "round_1_next"
    parse_round(round_from_dict(draft), experiment_from_cfg(compose_cfg()))  # a valid round


def test_the_analysis_of_a_round_worked_with_a_budget_override_uses_the_budget_it_ran(tmp_path):
    """A SLURM or multirun sweep runs the trials with ``round.budget.trials_per_study=N``;
    the analysis after it must not need the override repeated (the store recorded N)."""
    work = run_cli(tmp_path, *ANALYTIC_ROUND, "stage=work")
    assert work.returncode == 0, work.stderr
    proc = run_cli(tmp_path, "stage=analyze", "round=round_1",
                   "trainer._target_=tests.support.trainers.analytic")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "3 studies x 2 trials" in proc.stdout and "x 10 trials" not in proc.stdout


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("round.budget.sampler=cmaes", "round.budget.sampler"),
        ("round.budget.trials_per_study=0", "round.budget.trials_per_study"),
        ("model.activation=swish", "model.activation"),
    ],
)
def test_a_bad_round_is_one_error_and_the_store_is_untouched(tmp_path, override, key):
    assert run_cli(tmp_path, *ANALYTIC_ROUND).returncode == 0
    db = tmp_path / "tuning.db"
    before = db.read_bytes()
    logs_before = sorted(tmp_path.glob("logs/*/*"))
    proc = run_cli(tmp_path, *ANALYTIC_ROUND, override)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {key}: ") and "Traceback" not in proc.stderr
    assert db.read_bytes() == before
    assert sorted(tmp_path.glob("logs/*/*")) == logs_before


def test_round_1_promotes_and_round_2_starts_from_its_incumbent(tmp_path):
    story = [
        "trainer._target_=tests.support.trainers.analytic",
        "round.budget.trials_per_study=3",
        "round.promotion.seeds=2",
        "optimizer.lr=0.9",
    ]  # a base the rounds can beat
    first = run_cli(tmp_path, "round=round_1", *story)
    assert first.returncode == 0, first.stderr
    assert "promotion of round_1: PROMOTED" in first.stdout
    assert "mean improvement" in first.stdout and "p=" in first.stdout  # the printed reason
    assert (tmp_path / "incumbent.yaml").exists()
    second = run_cli(tmp_path, "round=round_2", *story)
    assert second.returncode == 0, second.stderr
    assert f"starting from {tmp_path}/incumbent.yaml (promoted by round_1)" in second.stdout
    assert "promotion of round_2:" in second.stdout
    history = run_cli(tmp_path, "stage=history")
    assert "-> round_1: promoted" in history.stdout and "round_2:" in history.stdout


def test_the_sweep_round_prints_its_choice_and_writes_the_sweep_view_and_tensorboard(tmp_path):
    proc = run_cli(
        tmp_path, "round=round_0", "trainer._target_=tests.support.trainers.swept",
        "round.promotion.seeds=2",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "  chosen: Sweep of optimizer.lr: 0.1 (trial" in proc.stdout
    assert "steps with a 25% margin" in proc.stdout
    draft = yaml.safe_load((tmp_path / "round_0" / "next_round.yaml").read_text())
    assert draft["budget"]["grid"]["optimizer.lr"] == [0.0333, 0.05, 0.1, 0.2, 0.3]
    report = (tmp_path / "round_0" / "report.html").read_text()
    assert "Sweep view: round_0" in report and 'data-figure="sweep:round_0"' in report
    runs = sorted(p.parent.name for p in (tmp_path / "tensorboard").rglob(".exported"))
    assert len([r for r in runs if r.startswith("trial_")]) == 9 + 4  # 9 trials, 2x2 reruns
    again = run_cli(tmp_path, "stage=analyze", "round=round_0",
                    "trainer._target_=tests.support.trainers.swept")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "tensorboard: 0 new runs" in again.stdout
