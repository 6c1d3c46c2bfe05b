"""Rounds without promotion, through the real command line (issue 25).

An own config without ``trainer.seed_key`` (nothing to re-train with fresh seeds), or a
round with ``round.promote=false``: the default stage still works, analyses and reports
the round, says why promotion was skipped (in the terminal and the report) and exits 0;
``stage=promote`` on such a round is one error naming the setting to give, and with it
the round is promoted later from the same store.
"""

from __future__ import annotations

from pathlib import Path

import optuna

from tests.support.cli import run_own_config, write_own_config

CONFIG = {  # an own config: the user's keys, a seed among them but no trainer.seed_key
    "defaults": ["orchestrator", "_self_"],
    "trainer": {"_target_": "tests.support.trainers.own_noop", "length_key": "epochs"},
    "objective": {"metric": "val_error", "direction": "minimize"},
    "net": {"act": "relu"},
    "lr": 0.1,
    "epochs": 3,
    "seed": 0,
}
ROUND = {
    "name": "r1",
    "goal": "Does the activation matter?",
    "start_from": "base",
    "scientific": {"net.act": ["relu", "tanh"]},
    "nuisance": {"lr": {"low": 0.01, "high": 1.0, "log": True}},
    "budget": {"trials_per_study": 2},
    "promotion": {"seeds": 2},
}


def orchestrator(tmp: Path, *overrides: str):
    """``orchestrator --config-dir <tmp>/conf --config-name mine round=r1 <overrides>``."""
    conf = tmp / "conf"
    if not conf.exists():
        write_own_config(conf, CONFIG, [ROUND])
    return run_own_config(conf, tmp / "studies", "round=r1", *overrides)


def study_names(studies: Path) -> list[str]:
    summaries = optuna.get_all_study_summaries(f"sqlite:///{studies}/tuning.db")
    return sorted(s.study_name for s in summaries)


def promotion_section(studies: Path) -> str:
    report = (studies / "r1" / "report.html").read_text()
    return report[report.index("<h2>Promotion decision</h2>") :]


def test_a_round_without_a_seed_key_runs_analyses_and_says_why_it_did_not_promote(tmp_path):
    done = orchestrator(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == (
        "promotion of r1: skipped, no seed key (trainer.seed_key is unset), and promotion "
        "re-trains the candidate and the incumbent with fresh seeds; to decide on this round's "
        "candidate later: stage=promote trainer.seed_key=<the config key your trainer seeds from>"
    )
    studies = tmp_path / "studies"
    assert (studies / "r1" / "findings.json").exists()
    assert (studies / "r1" / "next_round.yaml").exists()
    assert promotion_section(studies).startswith(
        "<h2>Promotion decision</h2><p>Promotion skipped: no seed key (trainer.seed_key is unset)"
    )
    assert study_names(studies) == ["r1/net.act=relu", "r1/net.act=tanh"]  # no reruns
    assert not (studies / "incumbent.yaml").exists()

    refused = orchestrator(tmp_path, "stage=promote")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "error: trainer.seed_key: promotion re-trains the candidate and the incumbent with "
        "fresh seeds: name the config key your trainer seeds from (e.g. trainer.seed_key=seed)"
    )
    assert study_names(studies) == ["r1/net.act=relu", "r1/net.act=tanh"]


def test_promotion_switched_off_is_named_and_promote_later_decides(tmp_path):
    done = orchestrator(tmp_path, "trainer.seed_key=seed", "round.promote=false")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == (
        "promotion of r1: skipped, switched off for this round (round.promote=false); to "
        "decide on its candidate later: stage=promote round.promote=true"
    )
    studies = tmp_path / "studies"
    assert "Promotion skipped: switched off for this round" in promotion_section(studies)

    off = ("trainer.seed_key=seed", "round.promote=false")
    refused = orchestrator(tmp_path, *off, "stage=promote")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "error: round.promote: promotion is switched off for this round (round.promote=false); "
        "to promote it, set round.promote=true"
    )

    promoted = orchestrator(tmp_path, "trainer.seed_key=seed", "stage=promote")
    assert promoted.returncode == 0, promoted.stderr
    assert "promotion of r1: REJECTED" in promoted.stdout  # own_noop: 0.5 for every config
    assert promotion_section(studies).startswith(
        '<h2>Promotion decision</h2>\n<p>Verdict: <strong style="color:#757575">rejected'
    )
    assert study_names(studies) == ["r1/net.act=relu", "r1/net.act=tanh", "r1/promotion"]
