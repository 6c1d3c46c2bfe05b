"""A child's metric lines: which lines are metrics, and lines read while being written."""

from __future__ import annotations

import math

from orchestrator.trainers.child.metric_lines import LineTail, parse_line


def test_report_and_final_lines_are_metrics():
    assert parse_line('{"step": 3, "val_acc": 0.9, "loss": 1}') == (
        3,
        {"val_acc": 0.9, "loss": 1.0},
    )
    assert parse_line(' {"val_acc": 0.95}\n') == (None, {"val_acc": 0.95})
    step, metrics = parse_line('{"step": 2, "loss": "nan"}')
    assert step == 2 and math.isnan(metrics["loss"])


def test_anything_else_is_left_alone():
    for line in [
        "epoch 3: loss=0.2",
        '{"event": "checkpoint", "path": "/x"}',  # JSON, but not all numbers
        '{"step": 3}',  # no metric
        "[1, 2]",
        '{"ok": true}',
        "{not json",
        "",
    ]:
        assert parse_line(line) is None, line


def test_a_tail_returns_complete_lines_and_waits_for_a_partial_one(tmp_path):
    path = tmp_path / "m.jsonl"
    tail = LineTail(path)
    assert tail.new_lines() == []  # not written yet
    path.write_text('{"step": 1, "a": 1}\n{"step": 2,')
    assert tail.new_lines() == ['{"step": 1, "a": 1}']
    with open(path, "a") as f:
        f.write(' "a": 2}\n{"a": 3}')
    assert tail.new_lines() == ['{"step": 2, "a": 2}']
    assert tail.new_lines(final=True) == ['{"a": 3}']
