"""A program's own output read as metrics: the line presets and your regexes, a CSV log
and TensorBoard event files, each read as it grows, and what each source says it found."""

from __future__ import annotations

import time

import pytest
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from orchestrator.config.metric_settings import MetricSettings
from orchestrator.trainers.child.metric_files import CsvSource, TensorBoardSource
from orchestrator.trainers.child.patterns import LinePattern, line_patterns, parse_with
from orchestrator.trainers.child.sources import in_trial_dir, trial_sources

LM_LINES = [
    "Namespace(lr=20, epochs=2)",
    "| epoch   1 |   200/ 2983 batches | lr 20.00 | ms/batch 10.12 | loss  6.90 | ppl   994.30",
    "-" * 89,
    "| end of epoch   1 | time: 12.34s | valid loss  5.59 | valid ppl   267.23",
    "| epoch   2 |   200/ 2983 batches | lr 20.00 | ms/batch 10.02 | loss  5.50 | ppl   244.69",
    "| end of epoch   2 | time: 12.01s | valid loss  5.31 | valid ppl   202.35",
]  # fmt: skip


def test_the_columns_preset_reads_bar_separated_words_and_numbers_with_the_epoch_as_step():
    columns = LinePattern("columns")
    records = [r for r in map(columns.parse, LM_LINES) if r is not None]
    assert records[1] == (1, {"valid_loss": 5.59, "valid_ppl": 267.23})
    assert records[0] == (1, {"lr": 20.0, "ms/batch": 10.12, "loss": 6.9, "ppl": 994.3})
    assert [step for step, _ in records] == [1, 1, 2, 2]
    assert columns.lines == 4 and "valid_ppl" in columns.summary()


def test_the_key_value_preset_reads_name_value_pairs_and_counts_lines_without_a_step():
    pattern = LinePattern("key_value")
    assert pattern.parse("epoch 1: train_loss=0.52 val_acc=0.91") == (
        1, {"train_loss": 0.52, "val_acc": 0.91})  # fmt: skip
    assert pattern.parse("loss: 0.3, acc: 9e-1") == (2, {"loss": 0.3, "acc": 0.9})
    assert pattern.parse("step=10 loss=nan")[0] == 10
    assert pattern.parse("no numbers here: none") is None


def test_your_regex_names_the_metrics_and_the_step_and_a_step_zero_counts_from_one():
    regex = r"\| end of epoch +(?P<step>\d+) .*valid loss +(?P<val_loss>[\d.]+)"
    pattern = LinePattern(regex)
    lines = ["| end of epoch 0 | valid loss 5.9", *LM_LINES]
    records = [r for r in map(pattern.parse, lines) if r is not None]
    assert records == [(1, {"val_loss": 5.9}), (2, {"val_loss": 5.59}), (3, {"val_loss": 5.31})]


def test_the_first_pattern_that_finds_a_metric_claims_the_line():
    patterns = line_patterns(("json", "key_value"))
    assert parse_with(patterns, '{"step": 2, "loss": 0.5}') == (2, {"loss": 0.5})
    assert parse_with(patterns, '{"loss": 0.5}') == (None, {"loss": 0.5})  # final metrics
    assert parse_with(patterns, "loss=0.4") == (1, {"loss": 0.4})
    assert [p.lines for p in patterns] == [2, 1]
    assert patterns[1].summary().startswith("pattern 'key_value': 1 line(s), metrics loss")


def test_a_csv_log_is_read_row_by_row_as_it_grows(tmp_path):
    path = tmp_path / "log.csv"
    source = CsvSource(path)
    assert source.read() == [] and "not written" in source.summary()
    path.write_text("epoch,train_mse,val_mse,when\n0,0.5,0.6,10:01\n1,0.4,0.5")
    assert source.read() == [(1, {"train_mse": 0.5, "val_mse": 0.6})]  # the partial row waits
    with open(path, "a") as handle:
        handle.write(",10:02\n2,0.3,,10:03\n")
    assert source.read() == [(2, {"train_mse": 0.4, "val_mse": 0.5}), (3, {"train_mse": 0.3})]
    assert source.summary() == f"csv {path}: 3 row(s), metrics train_mse, val_mse"


def test_a_csv_log_rewritten_under_a_wider_header_counts_each_row_once(tmp_path):
    """As Lightning's CSVLogger does the first time a new metric (val_loss) is logged."""
    path = tmp_path / "metrics.csv"
    source = CsvSource(path)
    path.write_text("epoch,step,train_loss\n0,9,1.0\n0,19,0.9\n")
    assert source.read() == [(1, {"train_loss": 1.0}), (1, {"train_loss": 0.9})]
    path.write_text("epoch,step,train_loss,val_loss\n0,9,1.0,\n0,19,0.9,\n0,19,,0.8\n")
    assert source.read() == [(1, {"val_loss": 0.8})]
    with open(path, "a") as handle:
        handle.write("1,29,0.7,\n")
    assert source.read() == [(2, {"train_loss": 0.7})]
    assert source.summary() == f"csv {path}: 4 row(s), metrics train_loss, val_loss"


def test_a_csv_log_written_whole_each_epoch_by_pandas_is_read_once_per_row(tmp_path):
    """``pd.DataFrame(history).to_csv(path)`` each epoch: the whole file again, with an
    unnamed index column, and briefly empty while it is written."""
    path = tmp_path / "history.csv"
    source = CsvSource(path)
    history: list[str] = []
    seen = []
    for epoch, loss in enumerate([0.9, 0.7, 0.6]):
        history.append(f"{epoch},{loss}")
        path.write_text("")  # truncated, not yet written
        seen += source.read()
        path.write_text(",val_loss\n" + "\n".join(history) + "\n")
        seen += source.read()
    assert seen == [(1, {"val_loss": 0.9}), (2, {"val_loss": 0.7}), (3, {"val_loss": 0.6})]


def _scalar(writer: EventFileWriter, tag: str, value: float, step: int) -> None:
    summary = Summary(value=[Summary.Value(tag=tag, simple_value=value)])
    writer.add_event(Event(summary=summary, step=step, wall_time=time.time()))
    writer.flush()


def test_tensorboard_scalars_are_read_by_tag_and_only_the_new_ones_each_time(tmp_path):
    writer = EventFileWriter(str(tmp_path / "runs"))
    source = TensorBoardSource(tmp_path / "runs")
    _scalar(writer, "val/loss", 0.9, 0)
    _scalar(writer, "train/loss", 1.2, 0)
    records = sorted(source.read(last=True), key=lambda record: list(record[1]))
    approx = pytest.approx
    assert records == [(1, {"train/loss": approx(1.2)}), (1, {"val/loss": approx(0.9)})]
    _scalar(writer, "val/loss", 0.7, 1)
    writer.close()
    assert source.read(last=True) == [(2, {"val/loss": pytest.approx(0.7)})]
    assert source.summary().endswith("runs: scalars train/loss (1), val/loss (2)")


def test_tensorboard_subfolders_are_read_as_pytorchs_add_scalars_and_lightning_write_them(
    tmp_path,
):
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "runs"))
    writer.add_scalar("val/acc", 0.5, 0)
    writer.add_scalars("loss", {"train": 1.0, "val": 0.8}, 0)  # a subfolder per key
    writer.flush()
    lightning = SummaryWriter(str(tmp_path / "runs" / "version_0"))
    lightning.add_scalar("val_loss", 0.7, 0)
    lightning.flush()
    source = TensorBoardSource(tmp_path / "runs")
    names = {name for _, metrics in source.read(last=True) for name in metrics}
    assert names == {"val/acc", "loss_train/loss", "loss_val/loss", "version_0/val_loss"}
    writer.add_scalars("loss", {"train": 0.9, "val": 0.6}, 1)
    writer.close()
    lightning.close()
    assert sorted(source.read(last=True), key=str) == [
        (2, {"loss_train/loss": pytest.approx(0.9)}),
        (2, {"loss_val/loss": pytest.approx(0.6)}),
    ]
    assert "loss_val/loss (2)" in source.summary()


def test_paths_are_the_trials_own_unless_absolute(tmp_path):
    assert in_trial_dir("runs", tmp_path) == tmp_path / "runs"
    assert in_trial_dir("{trial_dir}/a/log.csv", tmp_path) == tmp_path / "a" / "log.csv"
    assert in_trial_dir("/elsewhere/log.csv", tmp_path).as_posix() == "/elsewhere/log.csv"
    sources = trial_sources(MetricSettings(("key_value",), "runs", "log.csv"), tmp_path)
    assert [s.summary().split(" ")[0] for s in sources.files[1:]] == ["tensorboard", "csv"]
    assert len(sources.line_files) == 2  # stdout.log and stderr.log


def test_what_trial_report_wrote_is_said_beside_the_patterns(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "acc": 0.5}\n')
    (tmp_path / "stdout.log").write_text("acc=0.6\n")
    sources = trial_sources(MetricSettings(("key_value",)), tmp_path)
    records = [record for source in sources.all() for record in source.read(last=True)]
    assert records == [(1, {"acc": 0.5}), (1, {"acc": 0.6})]
    assert sources.summaries() == [
        "pattern 'key_value': 1 line(s), metrics acc; first: 'acc=0.6'",
        "trial_report's metrics.jsonl: 1 line(s), metrics acc; first: "
        '\'{"step": 1, "acc": 0.5}\'',
    ]
