"""A round file drafted from an app's sweeper search space, for a person to finish.

Every swept parameter comes out as nuisance (a sweeper has no scientific parameters: it
optimises them all together); the comments at the top say what is left to decide: which
parameter(s) the round asks about (scientific, with their values), the round's goal, and
the budget per scientific value (the sweeper's ``n_trials`` were for the whole sweep).
The sweeper's direction belongs to the orchestrator's ``objective.direction``.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from orchestrator.trainers.hydra_app.sweep_space import SweepSpace


def round_name(raw: str) -> str:
    """``raw`` (a study name, say) as a round file's name: letters, digits and ``_``."""
    return re.sub(r"\W+", "_", raw).strip("_") or "sweep_1"


def round_text(space: SweepSpace, name: str, source: str) -> str:
    """The round file's YAML: a header of what to fill in, then the round."""
    body: dict[str, Any] = {
        "name": name,
        "goal": "",
        "start_from": "incumbent",
        "scientific": {},
        "nuisance": space.nuisance,
    }
    if space.fixed:
        body["fixed"] = space.fixed
    budget: dict[str, Any] = {"trials_per_study": space.n_trials or 10, "sampler": "qmc"}
    budget["seed"] = space.seed if space.seed is not None else 0
    body["budget"] = budget
    return "\n".join(
        [*_header(space, source), yaml.safe_dump(body, sort_keys=False, default_flow_style=None)]
    )


def _header(space: SweepSpace, source: str) -> list[str]:
    trials = f"the sweeper ran {space.n_trials} in all" if space.n_trials else "at least 10"
    direction = space.direction or "minimize (the sweeper's default)"
    return [
        f"# Drafted by `orchestrator stage=from_sweeper` from hydra.sweeper.params of {source}.",
        "# Every swept parameter is nuisance below. Fill in before running the round:",
        "#   - scientific: move the parameter(s) this round asks about out of nuisance, each",
        "#     with the values to compare (e.g. model.width: [64, 128]);",
        "#   - goal: the question the round answers;",
        "#   - budget.trials_per_study: trials per scientific value, each sampling the",
        f"#     nuisance parameters ({trials}).",
        f"# The sweeper's direction is the objective's: objective.direction: {direction}",
        "# (with objective.metric) in your orchestrator config. Its sampler settings are not",
        "# carried: the round samples per scientific value (budget.sampler, budget.seed).",
    ]
