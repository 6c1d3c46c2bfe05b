"""Each optimizer is built as configured, and each schedule gives its documented rate curve."""

from __future__ import annotations

import math

import pytest
import torch

from orchestrator.train.config import OptimizerConfig, ScheduleConfig
from orchestrator.train.loop import fit
from orchestrator.train.optim import build_optimizer, lr_at
from tests.support.experiments import tiny_experiment

PEAK, T = 0.4, 100


def curve(cfg: ScheduleConfig, total: int = T) -> list[float]:
    return [lr_at(i, total, PEAK, cfg) for i in range(total)]


def test_constant():
    assert curve(ScheduleConfig(name="constant")) == [PEAK] * T


def test_linear_decays_from_peak_to_final_fraction():
    lrs = curve(ScheduleConfig(name="linear", final_fraction=0.1))
    assert lrs[0] == pytest.approx(PEAK)
    assert lrs[-1] == pytest.approx(0.1 * PEAK)
    steps = [a - b for a, b in zip(lrs, lrs[1:], strict=False)]
    assert all(s == pytest.approx(steps[0]) for s in steps)  # a straight line


def test_cosine_matches_formula_and_is_half_way_at_the_middle():
    lrs = curve(ScheduleConfig(name="cosine", final_fraction=0.0), total=101)
    assert lrs[0] == pytest.approx(PEAK)
    assert lrs[50] == pytest.approx(PEAK / 2)
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)
    assert lrs[25] == pytest.approx(PEAK * 0.5 * (1 + math.cos(math.pi * 0.25)))


def test_exponential_is_geometric():
    lrs = curve(ScheduleConfig(name="exponential", final_fraction=0.01))
    assert lrs[-1] == pytest.approx(0.01 * PEAK)
    ratios = [b / a for a, b in zip(lrs, lrs[1:], strict=False)]
    assert all(r == pytest.approx(ratios[0]) for r in ratios)


def test_step_multiplies_by_gamma_at_milestones():
    lrs = curve(ScheduleConfig(name="step", milestones=[0.5, 0.75], gamma=0.1))
    assert set(lrs[:50]) == {PEAK}
    assert lrs[50:75] == pytest.approx([PEAK * 0.1] * 25)
    assert lrs[75:] == pytest.approx([PEAK * 0.01] * 25)


def test_warmup_rises_linearly_to_the_peak_then_the_schedule_runs_on_the_rest():
    lrs = curve(ScheduleConfig(name="linear", warmup_steps=10, final_fraction=0.0))
    assert lrs[:10] == pytest.approx([PEAK * (i + 1) / 10 for i in range(10)])
    assert lrs[10] == pytest.approx(PEAK)  # decay starts at the peak after warmup
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)


def test_fit_applies_the_schedule_it_reports():
    cfg = tiny_experiment(steps=30, eval_every=30)
    cfg.schedule = ScheduleConfig(name="cosine", warmup_steps=5, final_fraction=0.1)
    result = fit(cfg)
    expected = [lr_at(i, 30, cfg.optimizer.lr, cfg.schedule) for i in range(30)]
    assert result.curves.lr == pytest.approx(expected)


def _params() -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.ones(3))]


def test_sgd_momentum_nesterov_weight_decay():
    opt = build_optimizer(
        OptimizerConfig(name="sgd", lr=0.3, momentum=0.8, nesterov=True, weight_decay=1e-3),
        _params(),
    )
    assert isinstance(opt, torch.optim.SGD)
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["nesterov"], group["weight_decay"]) == (
        0.3,
        0.8,
        True,
        1e-3,
    )


@pytest.mark.parametrize(
    ("name", "cls"), [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)]
)
def test_adam_family_betas_eps_weight_decay(name, cls):
    cfg = OptimizerConfig(name=name, lr=1e-3, beta1=0.8, beta2=0.95, eps=1e-6, weight_decay=0.1)
    opt = build_optimizer(cfg, _params())
    assert type(opt) is cls
    group = opt.param_groups[0]
    assert group["betas"] == (0.8, 0.95) and group["eps"] == 1e-6
    assert group["weight_decay"] == 0.1


def test_adamw_decay_is_decoupled_and_adam_decay_is_l2():
    """With a zero gradient, AdamW still shrinks weights by lr*wd; Adam (L2 in the gradient)
    normalises the decay term away and moves by about lr."""
    moved = {}
    for name in ("adam", "adamw"):
        p = torch.nn.Parameter(torch.full((1,), 2.0))
        opt = build_optimizer(OptimizerConfig(name=name, lr=0.1, weight_decay=0.5), [p])
        p.grad = torch.zeros(1)
        opt.step()
        moved[name] = 2.0 - p.item()
    assert moved["adamw"] == pytest.approx(0.1 * 0.5 * 2.0)
    assert moved["adam"] == pytest.approx(0.1, rel=1e-3)
