"""Planted-truth training curves for the curve checks' recall and false alarms.

Shaped like the default training (300 steps, per-step training loss, an evaluation every
``eval_every``), each a pure function of its seed: a clean run, a flat but noisy
validation curve, real overfitting, a low error on a small validation set, a training loss
that flattens near zero, the large gradients of a fresh network's first steps, and real
gradient spikes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from orchestrator.analysis.model import StudyRecord, TrialRecord

STEPS = 300


def run(
    seed: int,
    val: np.ndarray | None = None,
    *,
    eval_every: int = 50,
    loss: np.ndarray | None = None,
    norms: np.ndarray | None = None,
) -> TrialRecord:
    """A trial whose curves are the given ones, the rest a clean run."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, STEPS + 1)
    evals = list(range(eval_every, STEPS + 1, eval_every))
    if loss is None:
        loss = 0.3 + 2.0 * np.exp(-t / 40.0) + rng.normal(0.0, 0.02, STEPS)
    if norms is None:
        norms = 1.0 + rng.normal(0.0, 0.1, STEPS)
    if val is None:
        val = 0.2 + 0.4 * np.exp(-np.asarray(evals) / 40.0) + rng.normal(0, 0.005, len(evals))
    curves: dict[str, Any] = {
        "train_loss": list(map(float, loss)),
        "lr": [0.1] * STEPS,
        "grad_norm": list(map(float, norms)),
        "eval_step": evals,
        "val_error": list(map(float, val)),
        "val_loss": list(map(float, 2 * np.asarray(val))),
    }
    best = int(np.argmin(val))
    return TrialRecord(0, "complete", float(val[best]), {}, best_step=evals[best],
                       max_steps=STEPS, curves=curves)  # fmt: skip


def evals(eval_every: int) -> np.ndarray:
    return np.arange(eval_every, STEPS + 1, eval_every, dtype=float)


def flat_noisy_val(seed: int, eval_every: int = 50, noise: float = 0.02) -> TrialRecord:
    """The validation error falls, then stays flat with noise: no upward trend."""
    rng = np.random.default_rng(1000 + seed)
    s = evals(eval_every)
    val = 0.2 + 0.3 * np.exp(-s / 30.0) + rng.normal(0.0, noise, len(s))
    return run(seed, val, eval_every=eval_every)


def overfitting_val(seed: int, eval_every: int = 50, noise: float = 0.02) -> TrialRecord:
    """The validation error bottoms out at about a third of training, then rises ~0.1."""
    rng = np.random.default_rng(2000 + seed)
    s = evals(eval_every)
    val = 0.2 + 0.3 * np.exp(-s / 30.0) + 0.1 * np.clip((s - 100) / 200, 0, None) ** 1.5
    return run(seed, val + rng.normal(0.0, noise, len(s)), eval_every=eval_every)


def clean(seed: int) -> TrialRecord:
    """A healthy run: loss and error fall and flatten, small noise, no spikes."""
    return run(seed)


def low_error_small_val(seed: int, examples: int = 359) -> TrialRecord:
    """An error near 3% on a small validation set: late swings of one or two images."""
    rng = np.random.default_rng(3000 + seed)
    s = evals(25)
    val = 0.03 + 0.5 * np.exp(-s / 25.0) + rng.integers(-2, 3, len(s)) / examples
    return run(seed, val, eval_every=25)


def late_wobble(seed: int) -> TrialRecord:
    """A late validation error swinging by about 0.05 around 0.2: comparisons are luck."""
    rng = np.random.default_rng(4000 + seed)
    s = evals(10)
    val = 0.2 + 0.4 * np.exp(-s / 30.0) + np.where(s > 150, rng.normal(0, 0.05, len(s)), 0.0)
    return run(seed, val, eval_every=10)


def still_falling(seed: int) -> TrialRecord:
    """A validation error still falling clearly at the end of training."""
    rng = np.random.default_rng(9000 + seed)
    s = evals(25)
    val = 0.4 - 0.0008 * s + rng.normal(0.0, 0.005, len(s))
    return run(seed, val, eval_every=25)


def loss_near_zero(seed: int) -> TrialRecord:
    """A training loss falling from 2.3 to about 0.012, drifting to 0.025 by the end."""
    rng = np.random.default_rng(5000 + seed)
    t = np.arange(1, STEPS + 1)
    loss = 0.012 + 2.3 * np.exp(-t / 25.0) + 0.013 * np.clip((t - 200) / 100, 0, None)
    return run(seed, loss=loss * (1 + rng.normal(0, 0.05, STEPS)))


def loss_rising(seed: int) -> TrialRecord:
    """A training loss falling to 0.3, then climbing back to about 0.9: a real rise."""
    rng = np.random.default_rng(6000 + seed)
    t = np.arange(1, STEPS + 1)
    loss = 0.3 + 2.0 * np.exp(-t / 30.0) + 0.6 * np.clip((t - 150) / 150, 0, None)
    return run(seed, loss=loss + rng.normal(0, 0.03, STEPS))


def fresh_network_norms(seed: int) -> TrialRecord:
    """The first few steps of a fresh network have norms many times the later median."""
    rng = np.random.default_rng(7000 + seed)
    norms = 1.0 + rng.normal(0.0, 0.1, STEPS)
    first = int(rng.integers(2, 8))
    norms[:first] = np.geomspace(30.0, 6.0, first)
    return run(seed, norms=norms)


def spiking_norms(seed: int) -> TrialRecord:
    """Isolated gradient-norm spikes after training settled (plus the usual first steps)."""
    rng = np.random.default_rng(8000 + seed)
    norms = 1.0 + rng.normal(0.0, 0.1, STEPS)
    norms[:3] = [30.0, 15.0, 7.0]
    norms[rng.choice(np.arange(30, STEPS), size=2, replace=False)] = 12.0
    return run(seed, norms=norms)


def rung_round(seed: int, *, hidden: bool, steps: int = 8) -> list[StudyRecord]:
    """Two scientific values of a pruned round (issue 26's case), their curves planted.

    ``tanh``'s trials all ran to the end, their best about 0.15; ``relu``'s complete trials
    end about 0.19. ``hidden``: a pruner cut relu's best trial at the last rung after its
    loss dipped to about 0.10 at step 4 and rose (overfitting), so on complete trials alone
    tanh looks clear of relu; else relu's pruned trials were behind all along (about 0.3)
    when they were cut at half the steps. Each value is a trial's best reported loss."""
    rng = np.random.default_rng(3000 + seed)

    def trial(number: int, curve: np.ndarray, cut: int | None) -> TrialRecord:
        curve = curve + rng.normal(0.0, 0.003, len(curve))
        reported = curve[:cut] if cut else curve
        values = {k + 1: float(v) for k, v in enumerate(reported)}
        best = float(reported.min())
        state: Any = "pruned" if cut else "complete"
        return TrialRecord(number, state, None if cut else best, {}, steps=len(reported),
                           max_steps=steps, intermediate=values)  # fmt: skip

    s = np.arange(1, steps + 1, dtype=float)

    def falling(floor: float) -> np.ndarray:
        return floor + 0.4 / s

    tanh = [trial(i, falling(0.10 + rng.uniform(0.0, 0.01)), None) for i in range(6)]
    relu = [trial(i, falling(0.14 + rng.uniform(0.0, 0.01)), None) for i in range(5)]
    if hidden:
        dip = 0.10 + 0.02 * np.abs(s - 4) + np.where(s > 4, 0.01 * (s - 4), 0.0)
        relu.append(trial(5, dip, steps))
    else:
        relu += [
            trial(5 + i, falling(0.25 + rng.uniform(0.0, 0.05)), steps // 2) for i in range(2)
        ]
    space: dict[str, list[dict[str, Any]]] = {}
    return [
        StudyRecord("r/act=tanh", {"act": "tanh"}, "minimize", "val_loss", space, tanh,
                    pruner="hyperband"),
        StudyRecord("r/act=relu", {"act": "relu"}, "minimize", "val_loss", space, relu,
                    pruner="hyperband"),
    ]  # fmt: skip
