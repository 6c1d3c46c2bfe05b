"""The batch-size probe: the recommendation rule, OOM handling, the real measurement, files."""

from __future__ import annotations

import dataclasses
import json
import os
import weakref
from pathlib import Path

import pytest
import torch
import yaml

from orchestrator.config.experiment import builtin_experiment
from orchestrator.config.schema import CONF_DIR
from orchestrator.config.sections import ProbeConfig, validate_probe
from orchestrator.exceptions import ConfigError
from orchestrator.probe import measure as probe_measure
from orchestrator.probe.chart import probe_figure
from orchestrator.probe.measure import run_probe
from orchestrator.probe.model import ProbeError, ProbePoint, ProbeResult
from orchestrator.probe.output import (
    apply_to_incumbent,
    format_table,
    probe_file,
    probe_stage,
    write_probe,
)
from orchestrator.probe.rule import doubling_gains, recommend
from orchestrator.store.incumbent import read_incumbent
from orchestrator.train.config import experiment_from_dict, experiment_to_dict
from orchestrator.train.data import load_split
from tests.support.experiments import tiny_experiment

FAST = {"warmup_steps": 1, "timed_steps": 2, "repeats": 1, "min_repeat_seconds": 0.0}


def curve(throughputs: list[float], memory_mb: float = 10.0) -> list[ProbePoint]:
    """Synthetic points at batch sizes 1, 2, 4, ... with the given examples/s."""
    return [
        ProbePoint(2**k, thr, 2**k / thr, memory_mb * 2**k) for k, thr in enumerate(throughputs)
    ]


# --------------------------------------------------------------------------- the rule


def test_linear_then_flat_recommends_the_last_size_that_still_paid():
    points = curve([100, 200, 400, 800, 1600, 1700, 1750, 1760])
    v = recommend(points, ProbeConfig())
    assert v.recommended == 16  # 8 -> 16 doubled throughput, 16 -> 32 gave only 1.06x
    assert v.saturation == 32
    assert not v.bottleneck and v.tolerated_dips == ()
    assert "saturates at 32" in v.reason


def test_the_min_gain_threshold_decides_where_scaling_stops():
    points = curve([100, 200, 240, 250])  # 2 -> 4 gives 1.2x
    assert recommend(points, ProbeConfig(min_gain=1.15)).recommended == 4
    assert recommend(points, ProbeConfig(min_gain=1.25)).recommended == 2


def test_still_scaling_at_the_largest_size_recommends_it_without_saturation():
    v = recommend(curve([100, 190, 360, 700]), ProbeConfig())
    assert (v.recommended, v.saturation) == (8, None)
    assert "raise probe.max_batch_size" in v.reason


def test_flat_from_the_start_on_a_nearly_empty_gpu_is_a_bottleneck():
    points = curve([500.0] * 8, memory_mb=1.0)  # at most 128 MB of an 80 GB device
    v = recommend(points, ProbeConfig(), memory_capacity_mb=80_000)
    assert v.bottleneck
    assert "bottleneck" in v.bottleneck_reason and "far from saturated" in v.bottleneck_reason
    assert (v.recommended, v.saturation) == (1, 2)  # the smallest size: nothing paid


def test_flat_from_the_start_without_evidence_of_headroom_is_saturation_not_bottleneck():
    points = curve([500.0] * 8, memory_mb=1.0)
    assert not recommend(points, ProbeConfig()).bottleneck  # CPU: no capacity to compare
    nearly_full = curve([500.0] * 8, memory_mb=5_000.0)  # batch 4 uses 20 GB of 80
    v = recommend(nearly_full, ProbeConfig(), memory_capacity_mb=80_000)
    assert not v.bottleneck and "saturation" in v.bottleneck_reason


def test_small_sizes_that_fail_to_scale_while_larger_ones_do_are_a_bottleneck():
    points = curve([100, 110, 120, 240, 480, 500])  # no capacity: later growth is the evidence
    v = recommend(points, ProbeConfig())
    assert v.bottleneck and "the doubling to 8 still gained 2.00x" in v.bottleneck_reason
    assert not recommend(curve([100, 200, 400, 800]), ProbeConfig()).bottleneck


def test_a_smoothly_saturating_device_is_never_a_bottleneck():
    # A fixed 2.5 units per step plus 1 per example: gains only fall (1.56x, 1.38x, ...),
    # the small sizes scale < 1.5x per doubling, and throughput still grows 1.6x later.
    points = curve([b / (2.5 + b) * 1000 for b in (1, 2, 4, 8, 16, 32, 64)])
    v = recommend(points, ProbeConfig())
    assert not v.bottleneck and "saturation" in v.bottleneck_reason
    assert (v.recommended, v.saturation) == (8, 16)


def test_a_late_blip_after_a_flat_stretch_does_not_move_the_recommendation():
    points = curve([100, 200, 400, 800, 820, 830, 1000, 1010])
    gains = doubling_gains(points)
    assert gains[6] >= ProbeConfig().min_gain  # 32 -> 64 is a blip above min_gain
    v = recommend(points, ProbeConfig())
    assert (v.recommended, v.saturation) == (8, 16)
    assert "128 later reached 1.26x the throughput of 8" in v.reason  # reported, not followed


def test_a_single_dip_that_recovers_is_tolerated_and_one_that_does_not_stops_the_walk():
    # 4 -> 8 dips (0.95x) but 16 is 3.75x over 4 (>= min_gain**2): noise at 8, keep walking.
    recovered = recommend(curve([100, 200, 400, 380, 1500, 1550]), ProbeConfig())
    assert (recovered.recommended, recovered.saturation) == (16, 32)
    assert recovered.tolerated_dips == (8,)
    # 16 is only 1.05x over 4: the dip was real, the walk stops at it.
    stopped = recommend(curve([100, 200, 400, 380, 420, 2000]), ProbeConfig())
    assert (stopped.recommended, stopped.saturation) == (4, 8)
    assert stopped.tolerated_dips == ()


def test_gains_are_per_doubling_and_a_single_point_recommends_itself():
    far_apart = [ProbePoint(1, 100.0, 0.01, 1.0), ProbePoint(4, 400.0, 0.01, 1.0)]
    assert doubling_gains(far_apart) == [None, pytest.approx(2.0)]
    v = recommend(curve([100.0]), ProbeConfig())
    assert (v.recommended, v.saturation, v.bottleneck) == (1, None, False)
    with pytest.raises(ValueError):
        recommend([], ProbeConfig())


# --------------------------------------------------------------------------- OOM


@pytest.fixture(scope="module")
def tiny_split():
    return load_split(tiny_experiment().data)


def fake_measure(oom_at: int, refs: list, attempted: list, error: Exception | None = None):
    """A measuring function: linear-then-flat points, and an OOM holding a big tensor."""

    def measure(ctx, batch_size: int) -> ProbePoint:
        attempted.append(batch_size)
        if batch_size == oom_at:
            big = torch.zeros(4_000_000)  # 16 MB held by this frame when the error is raised
            refs.append(weakref.ref(big))
            raise error or torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate")
        thr = 100.0 * min(batch_size, 4)
        return ProbePoint(batch_size, thr, batch_size / thr, float(batch_size), (0.1, 0.1))

    return measure


def test_an_injected_oom_stops_the_sweep_and_frees_memory_outside_the_except(
    monkeypatch, tiny_split
):
    refs: list[weakref.ref] = []
    attempted: list[int] = []
    alive_at_release: list[bool] = []
    real_release = probe_measure.release_memory

    def spying_release(device):
        real_release(device)
        if refs:  # the release after the OOM: inside the except the tensor would be alive
            alive_at_release.append(refs[0]() is not None)

    monkeypatch.setattr(probe_measure, "release_memory", spying_release)
    cfg = tiny_experiment()
    result = run_probe(
        cfg,
        ProbeConfig(max_batch_size=64),
        split=tiny_split,
        measure=fake_measure(16, refs, attempted),
    )
    assert attempted == [1, 2, 4, 8, 16]  # stopped at the OOM: 32 and 64 never tried
    assert result.oom_at == 16 and "OutOfMemoryError" in result.oom_error
    assert [p.batch_size for p in result.points] == [1, 2, 4, 8]
    assert result.largest_fit == 8
    assert result.verdict.recommended in {1, 2, 4, 8}
    assert result.verdict.recommended == 4  # 4 -> 8 gave 1.0x
    assert alive_at_release and alive_at_release[0] is False  # freed when released
    assert refs[0]() is None  # and the process is left clean
    assert "out of memory" in format_table(result)


def test_an_oom_while_still_scaling_recommends_the_largest_size_that_fit(tiny_split):
    def measure(ctx, batch_size):
        if batch_size == 8:
            raise RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate")
        return ProbePoint(batch_size, 100.0 * batch_size, 0.01, 1.0)

    result = run_probe(tiny_experiment(), ProbeConfig(), split=tiny_split, measure=measure)
    assert (result.oom_at, result.verdict.recommended, result.verdict.saturation) == (8, 4, None)
    assert "memory ran out at 8" in result.verdict.reason


def test_errors_that_are_not_out_of_memory_propagate(tiny_split):
    measure = fake_measure(
        4, [], [], error=RuntimeError("mat1 and mat2 shapes cannot be multiplied")
    )
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        run_probe(tiny_experiment(), ProbeConfig(), split=tiny_split, measure=measure)


def test_oom_at_batch_size_one_raises_a_probe_error(tiny_split):
    with pytest.raises(ProbeError, match="batch size 1 does not fit"):
        run_probe(
            tiny_experiment(), ProbeConfig(), split=tiny_split, measure=fake_measure(1, [], [])
        )


# --------------------------------------------------------------------------- real probes


@pytest.fixture(scope="module")
def tiny_result(tiny_split) -> ProbeResult:
    threads = torch.get_num_threads()
    try:  # one thread: steady timings when the CPU is shared
        cfg = tiny_experiment(threads=1)
        return run_probe(cfg, ProbeConfig(max_batch_size=16, **FAST), split=tiny_split)
    finally:
        torch.set_num_threads(threads)


def test_a_real_tiny_probe_on_cpu_measures_every_size(tiny_result):
    r = tiny_result
    assert [p.batch_size for p in r.points] == [1, 2, 4, 8, 16]
    assert (r.device, r.oom_at, r.model, r.data) == ("cpu", None, "cnn", "synthetic")
    for p in r.points:
        assert p.examples_per_s > 0 and p.step_seconds > 0
        assert p.examples_per_s == pytest.approx(p.batch_size / p.step_seconds)
        assert p.seconds_per_1k_steps == pytest.approx(p.step_seconds * 1000)
        assert len(p.repeat_step_seconds) == 1
    peaks = [p.peak_memory_mb for p in r.points]
    assert peaks == sorted(peaks) and peaks[-1] > peaks[0]  # activations grow with the batch
    assert r.verdict.recommended in {1, 2, 4, 8, 16}
    assert r.num_params > 0 and r.input_shape == (3, 16, 16)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_the_probe_measures_in_the_precision_fit_trains_in(precision, tiny_split):
    """bf16 and fp16 (with its loss scaler) run; the data is stored as ``fit`` stores it."""
    from orchestrator.probe.measure import _context

    cfg = tiny_experiment(threads=1, precision=precision)
    ctx = _context(cfg, ProbeConfig(), torch.device("cpu"), tiny_split)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    assert ctx.numerics.autocast_dtype == dtype and ctx.split.x_train.dtype == dtype
    result = run_probe(cfg, ProbeConfig(max_batch_size=4, **FAST), split=tiny_split)
    assert [p.batch_size for p in result.points] == [1, 2, 4] and result.oom_at is None
    assert all(p.examples_per_s > 0 for p in result.points)


def test_the_cpu_memory_ceiling_takes_the_oom_path_with_the_real_measure(tiny_result, tiny_split):
    peak = {p.batch_size: p.peak_memory_mb for p in tiny_result.points}
    limit = (peak[4] + peak[8]) / 2  # 4 fits, 8 does not
    probe = ProbeConfig(max_batch_size=16, cpu_memory_limit_mb=limit, **FAST)
    result = run_probe(tiny_experiment(threads=1), probe, split=tiny_split)
    assert result.oom_at == 8 and "MemoryCeilingExceeded" in result.oom_error
    assert [p.batch_size for p in result.points] == [1, 2, 4]
    assert result.verdict.recommended in {1, 2, 4}
    assert [p.peak_memory_mb for p in result.points] == [peak[1], peak[2], peak[4]]


def test_json_and_chart_are_written_where_they_should_be(tiny_result, tmp_path):
    json_path, html_path = write_probe(tiny_result, tmp_path)
    assert json_path == tmp_path / "probes" / "cnn-synthetic-cpu.json"
    assert json_path == probe_file(tmp_path, tiny_result)
    assert html_path == tmp_path / "probes" / "cnn-synthetic-cpu.html"
    loaded = json.loads(json_path.read_text())
    assert loaded == json.loads(json.dumps(tiny_result.to_dict()))
    assert ProbeResult.from_dict(loaded) == tiny_result
    assert loaded["points"][0]["seconds_per_1k_steps"] > 0
    page = html_path.read_text()
    assert "Plotly.newPlot" in page and "<script src=" not in page
    assert f"recommended ({tiny_result.verdict.recommended})" in page
    assert not list(json_path.parent.glob("*.tmp"))


def test_chart_has_a_log2_batch_axis_and_marks_the_oom(tiny_split):
    result = run_probe(
        tiny_experiment(), ProbeConfig(), split=tiny_split, measure=fake_measure(16, [], [])
    )
    fig = probe_figure(result)
    assert fig.layout.xaxis.type == "log"
    assert list(fig.layout.xaxis.tickvals) == [1, 2, 4, 8, 16]
    names = {trace.name for trace in fig.data}
    assert {"OOM (16)", f"recommended ({result.verdict.recommended})"} <= names


def test_format_table_lists_sizes_the_verdict_and_the_bottleneck_warning(tiny_split):
    def flat(ctx, batch_size):
        return ProbePoint(batch_size, 500.0, batch_size / 500.0, 1.0)

    # Flat at small sizes, then 4x more at 8 and up: a bottleneck by the later-growth test.
    def late(ctx, batch_size):
        thr = 100.0 if batch_size <= 4 else 400.0
        return ProbePoint(batch_size, thr, batch_size / thr, 1.0)

    quiet = format_table(
        run_probe(tiny_experiment(), ProbeConfig(max_batch_size=8), split=tiny_split, measure=flat)
    )
    warned = format_table(
        run_probe(
            tiny_experiment(), ProbeConfig(max_batch_size=16), split=tiny_split, measure=late
        )
    )
    assert "recommended batch size: 1" in quiet and "<- recommended" in quiet
    assert "WARNING bottleneck" not in quiet and "WARNING bottleneck" in warned
    assert all(f"\n{size:>6} " in quiet for size in (1, 2, 4, 8))
    assert "s/1k steps" in quiet


# --------------------------------------------------------------------------- apply, config


def test_apply_to_incumbent_writes_the_batch_size_and_keeps_everything_else(tmp_path):
    cfg = tiny_experiment()
    cfg.optimizer.lr = 0.37
    path = tmp_path / "incumbent.yaml"
    path.write_text(yaml.safe_dump({"round": "round_1", "experiment": experiment_to_dict(cfg)}))
    message = apply_to_incumbent(path, 128)
    document = yaml.safe_load(path.read_text())
    assert document["round"] == "round_1"
    expected = experiment_to_dict(cfg)
    expected["train"]["batch_size"] = 128
    assert document["experiment"] == expected
    assert document["batch_size_probe"]["previous"] == 32
    assert "32 -> 128" in message and "re-tune the optimizer" in message
    assert [p.name for p in tmp_path.iterdir()] == ["incumbent.yaml"]  # no temp file left


def test_apply_to_incumbent_replaces_atomically_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "incumbent.yaml"
    path.write_text(yaml.safe_dump(experiment_to_dict(tiny_experiment())))  # flat layout
    before = path.read_text()
    calls: list[tuple[str, str]] = []

    def failing_replace(src, dst):
        calls.append((str(src), str(dst)))
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        apply_to_incumbent(path, 8)
    assert path.read_text() == before  # untouched
    assert Path(calls[0][0]).parent == tmp_path and calls[0][1] == str(path)
    assert [p.name for p in tmp_path.iterdir()] == ["incumbent.yaml"]  # temp file removed
    monkeypatch.undo()
    apply_to_incumbent(path, 8)
    assert experiment_from_dict(yaml.safe_load(path.read_text())).train.batch_size == 8


def test_apply_creates_a_missing_incumbent_from_the_base_and_rejects_a_bad_one(tmp_path):
    path = tmp_path / "studies" / "incumbent.yaml"
    with pytest.raises(ConfigError):
        apply_to_incumbent(path, 16)
    apply_to_incumbent(path, 16, base=tiny_experiment())
    created = experiment_from_dict(yaml.safe_load(path.read_text())["experiment"])
    assert created.train.batch_size == 16 and created.model.width == 16
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"train": {"batch_size": 4, "stepz": 3}}))
    with pytest.raises(ConfigError, match="train.stepz"):
        apply_to_incumbent(bad, 16)
    assert "batch_size: 4" in bad.read_text()


def test_probe_stage_prints_the_table_writes_files_and_applies(tmp_path, tiny_split):
    lines: list[str] = []
    progress: list[str] = []
    probe = ProbeConfig(max_batch_size=4, apply=True, **FAST)
    cfg = tiny_experiment(threads=1)
    result = probe_stage(cfg, probe, tmp_path, echo=lines.append, progress=progress.append)
    text = "\n".join(lines)
    assert "recommended batch size" in text and "re-tune the optimizer" in text
    assert len(progress) == 2 + 3  # a title, the header, one line per size (1, 2, 4)
    json_path = tmp_path / "probes" / "cnn-synthetic-cpu.json"
    assert json_path.exists()
    incumbent = read_incumbent(tmp_path)  # the promotion stage's reader accepts it
    assert incumbent is not None
    assert incumbent.tree["train"]["batch_size"] == result.verdict.recommended
    assert incumbent.tree["model"] == experiment_to_dict(cfg)["model"]
    document = yaml.safe_load(incumbent.path.read_text())
    assert document["batch_size_probe"]["probe_file"] == str(json_path)


@pytest.mark.parametrize(
    ("field", "value", "key"),
    [
        ("max_batch_size", 100, "probe.max_batch_size"),
        ("max_batch_size", 0, "probe.max_batch_size"),
        ("warmup_steps", 0, "probe.warmup_steps"),
        ("timed_steps", 0, "probe.timed_steps"),
        ("repeats", 0, "probe.repeats"),
        ("min_repeat_seconds", -1.0, "probe.min_repeat_seconds"),
        ("min_gain", 1.0, "probe.min_gain"),
        ("bottleneck_gain", 2.5, "probe.bottleneck_gain"),
        ("cpu_memory_limit_mb", 0.0, "probe.cpu_memory_limit_mb"),
    ],
)
def test_validation_errors_name_the_key(field, value, key, tiny_split):
    bad = dataclasses.replace(ProbeConfig(), **{field: value})
    with pytest.raises(ConfigError) as err:
        validate_probe(bad)
    assert err.value.key == key and str(err.value).startswith(f"{key}: ")
    attempted: list[int] = []
    with pytest.raises(ConfigError):  # run_probe checks before measuring anything
        run_probe(
            tiny_experiment(), bad, split=tiny_split, measure=fake_measure(99, [], attempted)
        )
    assert attempted == []


def test_the_yaml_defaults_are_the_dataclass_defaults():
    raw = yaml.safe_load((CONF_DIR / "probe" / "default.yaml").read_text())
    assert raw == dataclasses.asdict(ProbeConfig())
    validate_probe(ProbeConfig(**raw))


def test_the_probe_stage_adds_a_ledger_row_when_the_ledger_exists(tmp_path):
    from orchestrator.config.schema import Config
    from orchestrator.stages.probe import probe
    from orchestrator.store.ledger import Ledger

    root = Config(stage="probe")
    root.paths.studies = str(tmp_path)
    root.storage.url = f"sqlite:///{tmp_path}/tuning.db"
    root.probe = ProbeConfig(
        max_batch_size=4, warmup_steps=1, timed_steps=1, repeats=1, min_repeat_seconds=0.0
    )
    assert probe(root, builtin_experiment(tiny_experiment())) == 0
    assert not (tmp_path / "tuning.db").exists()  # no ledger yet: none is created for a probe
    Ledger(root.storage.url).dispose()
    assert probe(root, builtin_experiment(tiny_experiment())) == 0
    (row,) = Ledger(root.storage.url).probes()
    assert (row.model, row.data, row.device) == ("cnn", "synthetic", "cpu")
    assert row.recommended in (1, 2, 4) and len(row.result["points"]) == 3
