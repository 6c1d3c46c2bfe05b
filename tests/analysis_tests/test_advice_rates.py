"""One piece of advice per parameter, over many planted rounds, through the whole analysis
and the next-round draft.

The planted truth: every trial above a momentum (at 80% of its range) diverges, and among
the trials that train the momentum hardly matters; the learning rate has an interior
optimum. The old checks called such a momentum "negligible" in 8 of 20 rounds, told it to
widen and to be fixed at once, and drafted a space that diverged.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from orchestrator.analysis.next_round import draft_of
from orchestrator.analysis.run import analyze
from orchestrator.config.experiment import builtin_experiment
from orchestrator.config.round import RoundConfig, round_from_dict
from orchestrator.config.sections import AnalysisConfig
from orchestrator.rounds.validate import parse_round
from tests.analysis_tests.planted import SEEDS, SPACE, planted_study, value_at

CFG = AnalysisConfig()
DIVERGES_ABOVE = 0.8  # position in the momentum range
FIRST_BAD = value_at("optimizer.momentum", DIVERGES_ABOVE)


def round_config() -> dict:
    raw = RoundConfig(
        name="planted",
        goal="planted",
        scientific={"model.depth": [1, 2, 3]},
        nuisance={p: dict(alts[0]) for p, alts in SPACE.items()},
        fixed={"train.steps": 300},
    )
    return dataclasses.asdict(raw)


def planted_round(seed: int) -> list:
    """Three studies (one per depth); the momentum decides divergence in each."""
    studies = []
    for depth in (1, 2, 3):
        s = planted_study(100 * seed + depth, 0.5, trials=16, infeasible_above=DIVERGES_ABOVE)
        studies.append(dataclasses.replace(s, name=f"planted/model.depth={depth}",
                                           point={"model.depth": depth}))  # fmt: skip
    return studies


def advice_by_param(findings) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for f in findings:
        if f.param and f.suggestion:
            what = "fix" if "fixed" in f.suggestion else next(iter(f.suggestion))
            if f.kind == "infeasible":
                what = "trim"
            out.setdefault((f.study, f.param), set()).add(f"{f.kind}:{what}")
    return out


@pytest.mark.parametrize("seed", list(SEEDS)[:20])
def test_no_param_gets_contradicting_advice_and_the_draft_avoids_divergence(seed):
    studies = planted_round(seed)
    findings = analyze(studies, CFG)
    for (study, param), advice in advice_by_param(findings).items():
        kinds = {a.split(":")[0] for a in advice}
        assert not ({"boundary", "importance"} <= kinds), (study, param, advice)
        assert "boundary:high" not in advice or "infeasible:trim" not in advice, advice
    # the momentum decides feasibility: never "negligible, fix it"
    assert not any(
        f.kind == "importance" and f.param == "optimizer.momentum" and f.suggestion
        for f in findings
    )
    draft, reasons = draft_of(round_config(), findings, studies)
    momentum = draft["nuisance"].get("optimizer.momentum")
    fixed = draft.get("fixed", {}).get("optimizer.momentum")
    if momentum is not None:
        assert momentum["high"] < FIRST_BAD, reasons  # never drafted into the divergence
    if fixed is not None:
        assert fixed < FIRST_BAD, reasons
    for value in _numbers(draft):
        assert _significant_digits(value) <= 3, (value, reasons)
    parse_round(round_from_dict(draft), builtin_experiment())  # a valid round


def _numbers(draft: dict) -> list[float]:
    ranges = [v for spec in draft["nuisance"].values() for v in (spec["low"], spec["high"])]
    return [v for v in ranges + list(draft.get("fixed", {}).values()) if isinstance(v, float)]


def _significant_digits(value: float) -> int:
    if value == 0:
        return 0
    digits = f"{abs(value):.12g}".replace(".", "").lstrip("0").rstrip("0")
    return len(digits) if not math.isinf(value) else 0
