"""The recommendation rule, pure: measured points in, a batch size and its reasons out."""

from __future__ import annotations

import math
from dataclasses import replace

from orchestrator.config.sections import ProbeConfig
from orchestrator.probe.model import (
    MEMORY_HEADROOM,
    NOISY_SPREAD,
    SMALL_DOUBLINGS,
    ProbePoint,
    Verdict,
)


def doubling_gains(points: list[ProbePoint]) -> list[float | None]:
    """Per point, its throughput over the previous point's, per doubling of the batch.

    In a probe the previous point is half the size, so this is the plain ratio; for
    other spacings it is normalised to one doubling (ratio ** (1 / log2(size ratio))).
    The first point has no gain (None).
    """
    gains: list[float | None] = [None]
    for prev, cur in zip(points, points[1:], strict=False):
        doublings = math.log2(cur.batch_size / prev.batch_size)
        gains.append((cur.examples_per_s / prev.examples_per_s) ** (1.0 / doublings))
    return gains


def recommend(
    points: list[ProbePoint], cfg: ProbeConfig, *, memory_capacity_mb: float | None = None
) -> Verdict:
    """The recommended batch size, the saturation point and the bottleneck check.

    The rule (``g[i]`` = throughput gain of size ``i`` over the previous size, half as
    large; ``G = min_gain``):

    1. Walk up from the smallest size. A size whose gain is ``>= G`` is accepted.
    2. A failed doubling (``g[i] < G``) ends the walk, with one exception for noise: a
       *dip* is tolerated when the next size recovers, i.e. its throughput is ``>= G**2``
       times that of the size before the dip (two doublings that together paid as much as
       two good ones). The walk then accepts the next size and goes on after it. A
       failure at the largest size probed cannot be checked and ends the walk.
    3. ``recommended`` is the last accepted size (the smallest size when nothing was
       accepted); ``saturation`` is the size whose failed doubling ended the walk (None
       when the walk reached the largest size probed: throughput was still scaling).

    Because the walk ends at the first failure that is not a recovered dip, a later blip
    above ``G`` after a flat stretch (two failed doublings in a row) never moves the
    recommendation, and a single noisy dip inside a scaling region does not stop it.

    The bottleneck check is ``_bottleneck``'s (its docstring says when it flags one).
    """
    if not points:
        raise ValueError("recommend needs at least one measured batch size")
    points = sorted(points, key=lambda p: p.batch_size)
    gains = doubling_gains(points)
    recommended, saturation, dips, why = _walk(points, gains, cfg.min_gain)
    bottleneck, bottleneck_reason = _bottleneck(
        points, gains, cfg.bottleneck_gain, memory_capacity_mb
    )
    return Verdict(
        recommended=recommended,
        saturation=saturation,
        bottleneck=bottleneck,
        reason=why,
        bottleneck_reason=bottleneck_reason,
        gains=tuple(gains),
        tolerated_dips=tuple(dips),
    )


def _walk(
    points: list[ProbePoint], gains: list[float | None], min_gain: float
) -> tuple[int, int | None, list[int], str]:
    """Steps 1-3 of ``recommend``: (recommended, saturation, tolerated dips, reason)."""
    sizes = [p.batch_size for p in points]
    thr = [p.examples_per_s for p in points]
    accepted, i = 0, 1
    dips: list[int] = []
    while i < len(points):
        gain = gains[i]
        assert gain is not None
        if gain >= min_gain:
            accepted, i = i, i + 1
            continue
        recovers = i + 1 < len(points) and thr[i + 1] >= min_gain**2 * thr[i - 1]
        if not recovers:
            why = _stop_reason(points, gains, i, min_gain) + _late_rise(points, accepted, min_gain)
            return sizes[accepted], sizes[i], dips, why
        dips.append(sizes[i])
        accepted, i = i + 1, i + 2
    if len(points) == 1:
        return sizes[0], None, dips, f"only batch size {sizes[0]} was measured"
    last = sizes[accepted]
    why = (
        f"throughput still grew by >= {min_gain:g}x per doubling up to the largest size "
        f"probed ({last}; {thr[accepted]:,.0f} examples/s): the device did not saturate, so "
        "the largest size is recommended (raise probe.max_batch_size to look further)"
    )
    return last, None, dips, why


def _stop_reason(points: list[ProbePoint], gains: list[float | None], i: int, g: float) -> str:
    prev, cur = points[i - 1], points[i]
    text = (
        f"doubling {prev.batch_size} -> {cur.batch_size} gave {gains[i]:.2f}x throughput "
        f"(< probe.min_gain {g:g})"
    )
    if i + 1 < len(points):
        nxt = points[i + 1]
        ratio = nxt.examples_per_s / prev.examples_per_s
        text += (
            f" and {nxt.batch_size} did not recover ({ratio:.2f}x over {prev.batch_size}, "
            f"< {g * g:.2f}x)"
        )
    if i == 1:
        return f"{text}: throughput does not scale even from the smallest size"
    return (
        f"{text}: the device saturates at {cur.batch_size}; {prev.batch_size} is the largest "
        "size that still paid"
    )


def _late_rise(points: list[ProbePoint], accepted: int, min_gain: float) -> str:
    """A note when a size past the saturation point beat the recommended one by min_gain."""
    base = points[accepted]
    best = max(points[accepted + 1 :], key=lambda p: p.examples_per_s)
    ratio = best.examples_per_s / base.examples_per_s
    if ratio < min_gain:
        return ""
    return (
        f". Note: {best.batch_size} later reached {ratio:.2f}x the throughput of "
        f"{base.batch_size}; the rule ignores a rise after a flat stretch (usually noise or "
        "a cache effect): rerun the probe to see whether it holds"
    )


def _bottleneck(
    points: list[ProbePoint],
    gains: list[float | None],
    bottleneck_gain: float,
    capacity_mb: float | None,
) -> tuple[bool, str]:
    """The bottleneck part of ``recommend``: (flag, explanation).

    Bottleneck: the geometric-mean gain over the first ``SMALL_DOUBLINGS`` doublings (1 ->
    2 -> 4 in a probe) is below ``bottleneck_gain`` although the device is far from
    saturated, judged by either (a) later growth: a later doubling gained at least
    ``bottleneck_gain``, i.e. the device scaled better at larger sizes than at small ones.
    A device that saturates smoothly (a fixed cost per step plus a cost per example) has
    gains that only fall as the batch grows, so a convex curve means something other than
    compute held the small sizes back. Or (b) memory: ``memory_capacity_mb`` is known
    (CUDA) and the peak memory at the last small size is below ``MEMORY_HEADROOM`` of it
    (a few small images cannot saturate such a device). Without either (e.g. on a CPU,
    where a big model can saturate the cores at batch 1), a curve that is flat from the
    start is read as saturation, not as a bottleneck.
    """
    if len(points) < 2:
        return False, ""
    k = min(SMALL_DOUBLINGS, len(points) - 1)
    first, last_small = points[0], points[k]
    doublings = math.log2(last_small.batch_size / first.batch_size)
    small_gain = (last_small.examples_per_s / first.examples_per_s) ** (1.0 / doublings)
    if small_gain >= bottleneck_gain:
        return False, ""
    scaled = (
        f"throughput scaled only {small_gain:.2f}x per doubling from batch {first.batch_size} "
        f"to {last_small.batch_size} (< probe.bottleneck_gain {bottleneck_gain:g})"
    )
    later = [(p, g) for p, g in zip(points[k + 1 :], gains[k + 1 :], strict=True)]
    convex = [(p, g) for p, g in later if g is not None and g >= bottleneck_gain]
    if convex:
        p, g = convex[0]
        headroom = f"the doubling to {p.batch_size} still gained {g:.2f}x"
    elif capacity_mb and last_small.peak_memory_mb < MEMORY_HEADROOM * capacity_mb:
        headroom = (
            f"batch {last_small.batch_size} used {last_small.peak_memory_mb:.0f} MB of "
            f"{capacity_mb:.0f} MB"
        )
    else:
        return False, f"{scaled}, but nothing shows spare capacity: read as saturation"
    return True, (
        f"{scaled} although the device is far from saturated ({headroom}): an input or "
        "host-device bottleneck (data gathering, copies, synchronisation, per-step host "
        "work) keeps the device idle at small sizes. Find and fix it before trusting these "
        "numbers."
    )


# --------------------------------------------------------------------------- measuring


def note_memory_limit(verdict: Verdict, oom_at: int | None, min_gain: float) -> Verdict:
    """When memory ran out before throughput saturated, the reason says so (and the risk)."""
    if oom_at is None or verdict.saturation is not None:
        return verdict
    rec = verdict.recommended
    if len(verdict.gains) <= 1:
        why = f"only batch size {rec} fits (memory ran out at {oom_at})"
    else:
        why = (
            f"throughput still grew by >= {min_gain:g}x per doubling up to {rec} and memory "
            f"ran out at {oom_at}: {rec}, the largest size that fits, is recommended. It "
            "leaves no margin (workers sharing the device, a larger evaluation batch): use "
            f"{rec // 2} if training runs out of memory"
        )
    return replace(verdict, reason=why)


def noisy_sizes(
    points: list[ProbePoint] | tuple[ProbePoint, ...], spread: float = NOISY_SPREAD
) -> list[int]:
    """Sizes whose slowest timed window took > ``spread`` x the fastest: a busy machine."""
    return [
        p.batch_size
        for p in points
        if len(p.repeat_step_seconds) > 1
        and max(p.repeat_step_seconds) > spread * min(p.repeat_step_seconds)
    ]


# --------------------------------------------------------------------------- output
