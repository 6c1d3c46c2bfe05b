"""How many complete trials per study the playbook's checks need: one rule for the round
(its default budget, its header's warning) and for the checks that read it.

The boundary check fits an additive quadratic over the tuned ranges (a slope and a curve
per range param, an intercept, and a few residual degrees of freedom so the fit is not a
guess); the density check wants ``min_trials_per_param`` complete trials per tuned param
plus one before it calls a study's optimum located. A round whose budget is below either
learns less than it paid for, so its default budget (``budget.trials_per_study`` unset)
is the larger of the two, and never below ``DEFAULT_TRIALS``.
"""

from __future__ import annotations

MIN_RESIDUAL_DOF = 2  # trials beyond the quadratic model's coefficients: less is a guess
DEFAULT_TRIALS = 10  # the smallest default budget per study
MIN_TRIALS_PER_PARAM = 3  # the analysis default (conf/analysis/default.yaml)


def boundary_trials(range_params: int) -> int:
    """Complete trials the additive quadratic model over ``range_params`` params needs."""
    return 1 + 2 * range_params + MIN_RESIDUAL_DOF


def density_trials(tuned: int, per_param: int = MIN_TRIALS_PER_PARAM) -> int:
    """Complete trials before a study's optimum counts as located: ``per_param`` per tuned
    param, plus one."""
    return per_param * max(tuned, 1) + 1


def trials_for_checks(tuned: int, range_params: int, per_param: int = MIN_TRIALS_PER_PARAM) -> int:
    """The default trials per study: enough for the boundary and the density checks."""
    if tuned == 0:
        return DEFAULT_TRIALS
    return max(DEFAULT_TRIALS, density_trials(tuned, per_param), boundary_trials(range_params))


def short_budget_warning(
    trials: int, tuned: int, range_params: int, per_param: int = MIN_TRIALS_PER_PARAM
) -> str | None:
    """The round header's line when ``trials`` per study is too few for a check, else None."""
    if tuned == 0:
        return None
    short = []
    if trials < boundary_trials(range_params) and range_params:
        short.append(f"the boundary check needs {boundary_trials(range_params)}")
    if trials < density_trials(tuned, per_param):
        short.append(f"the density check needs {density_trials(tuned, per_param)}")
    if not short:
        return None
    return (
        f"warning: {trials} trials per study over {tuned} tuned params: {' and '.join(short)}"
        " complete trials per study, so it will be skipped or warn; raise "
        "budget.trials_per_study (unset, it is what the checks need) or tune fewer params"
    )
