"""fit: reproducible from a seed, honest about divergence, and a well-formed result."""

from __future__ import annotations

import json
import math

import pytest

from orchestrator.train.loop import fit
from orchestrator.train.result import TrainResult
from tests.support.experiments import tiny_experiment


def test_same_seed_gives_identical_numbers_and_another_seed_does_not():
    cfg = tiny_experiment(steps=40, eval_every=20)
    cfg.data.crop_padding, cfg.data.hflip = 2, True  # augmentation is seeded too
    cfg.model.use_dropout = True  # and dropout
    a, b = fit(cfg), fit(cfg)
    assert a.curves.train_loss == b.curves.train_loss
    assert a.curves.val_error == b.curves.val_error and a.objective == b.objective
    cfg.train.seed = 1
    c = fit(cfg)
    assert c.curves.train_loss != a.curves.train_loss


def test_absurd_learning_rate_is_reported_as_diverged_not_nan():
    cfg = tiny_experiment(steps=60, eval_every=20)
    cfg.optimizer.lr = 1e4
    result = fit(cfg)
    assert result.status == "diverged" and result.diverged
    assert result.objective is None and result.best_step is None
    assert 1 <= result.diverged_step <= 10
    assert "loss" in result.divergence_reason
    assert result.steps < cfg.train.steps  # stopped early instead of burning the budget
    assert "diverged at step" in result.summary()
    json.dumps(result.to_dict(), allow_nan=False)  # NaN never leaks into the stored result


def test_exploding_loss_past_the_factor_is_divergence_with_its_reason():
    cfg = tiny_experiment(steps=60, eval_every=20)
    cfg.model.norm = "none"
    cfg.optimizer.lr = 2.0
    result = fit(cfg)
    assert result.diverged
    loss = result.curves.train_loss[result.diverged_step - 1]
    first = result.curves.train_loss[0]
    # a finite loss that crossed the line: the reason quotes both numbers
    assert loss > cfg.train.divergence_factor * first
    assert f"training loss {loss:.4g} exceeded 10x the initial loss {first:.4g}" == (
        result.divergence_reason
    )
    before = result.curves.train_loss[: result.diverged_step - 1]
    assert all(v <= cfg.train.divergence_factor * first for v in before)  # the first crossing


def test_a_sane_run_is_completed_with_its_best_step_and_curves():
    cfg = tiny_experiment(steps=60, eval_every=20)
    result = fit(cfg)
    assert result.status == "completed" and result.steps == 60 == result.max_steps
    c = result.curves
    assert c.eval_step == [20, 40, 60]
    assert (
        result.objective == min(c.val_error)
        and c.val_error[c.eval_step.index(result.best_step)] == result.objective
    )
    assert len(c.train_loss) == len(c.lr) == len(c.grad_norm) == 60
    assert all(g is not None and g > 0 for g in c.grad_norm)
    assert c.update_ratio_step == list(range(1, 61, cfg.train.metrics_every))
    assert all(1e-6 < r < 1.0 for r in c.update_ratio)
    assert set(result.final) == {"val_loss", "val_error", "val_accuracy", "train_loss"}
    assert result.examples_per_s > 0 and result.num_params > 0
    assert TrainResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_the_callback_sees_every_evaluation_and_can_stop_the_run():
    seen: list[tuple[int, dict[str, float]]] = []

    def on_eval(step: int, metrics: dict[str, float]) -> bool:
        seen.append((step, metrics))
        return step >= 40  # e.g. a pruner saying stop

    result = fit(tiny_experiment(steps=100, eval_every=20), on_eval=on_eval)
    assert [s for s, _ in seen] == [20, 40]
    assert {"val_loss", "val_error", "val_accuracy", "train_loss", "lr"} <= set(seen[0][1])
    assert result.status == "stopped" and result.steps == 40
    assert result.objective == min(m["val_error"] for _, m in seen)


def test_exceptions_from_the_callback_propagate():
    class Pruned(Exception):
        pass

    def on_eval(step: int, metrics: dict[str, float]) -> None:
        raise Pruned

    with pytest.raises(Pruned):
        fit(tiny_experiment(steps=40, eval_every=20), on_eval=on_eval)


def test_gradient_clipping_records_the_unclipped_norm_and_bounds_the_update():
    cfg = tiny_experiment(steps=20, eval_every=20)
    cfg.optimizer.momentum = 0.0
    free = fit(cfg)
    cfg.train.grad_clip_norm = 0.01
    clipped = fit(cfg)
    assert clipped.curves.grad_norm[0] == pytest.approx(free.curves.grad_norm[0])
    # plain SGD: |update| = lr * |clipped grad| <= lr * 0.01, far below the unclipped one
    assert clipped.curves.update_ratio[0] < free.curves.update_ratio[0] / 10


@pytest.mark.parametrize(
    ("metric", "direction", "pick"),
    [("val_loss", "minimize", min), ("val_accuracy", "maximize", max)],
)
def test_objective_follows_the_configured_metric(metric, direction, pick):
    cfg = tiny_experiment(steps=60, eval_every=20)
    cfg.objective.metric, cfg.objective.direction = metric, direction
    result = fit(cfg)
    values = (
        result.curves.val_loss
        if metric == "val_loss"
        else [1 - e for e in result.curves.val_error]
    )
    assert result.objective == pytest.approx(pick(values))


@pytest.mark.parametrize("model", ["mlp", "cnn"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_every_model_and_optimizer_trains(model, optimizer):
    cfg = tiny_experiment(steps=20, eval_every=20)
    cfg.model.name, cfg.optimizer.name = model, optimizer
    cfg.optimizer.lr = 0.05 if optimizer == "sgd" else 3e-3
    result = fit(cfg)
    assert result.status == "completed" and math.isfinite(result.objective)
    assert result.curves.train_loss[-1] < result.curves.train_loss[0]


def test_result_contract_rejects_broken_trainer_output():
    good = fit(tiny_experiment(steps=20, eval_every=20)).to_dict()
    with pytest.raises(ValueError, match="objective must be a finite number"):
        TrainResult.from_dict({**good, "objective": float("nan")})
    with pytest.raises(ValueError, match="diverged run must have objective None"):
        TrainResult.from_dict({**good, "status": "diverged"})
    with pytest.raises(ValueError, match="missing required keys \\['best_step'\\]"):
        TrainResult.from_dict({k: v for k, v in good.items() if k != "best_step"})
    with pytest.raises(ValueError, match="unknown keys \\['accuracy'\\]"):
        TrainResult.from_dict({**good, "accuracy": 0.9})
    with pytest.raises(ValueError, match="status must be one of"):
        TrainResult.from_dict({**good, "status": "ok"})
