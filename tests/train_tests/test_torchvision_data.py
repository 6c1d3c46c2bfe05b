"""``load_split`` reads torchvision's CIFAR-10/100, MNIST and Fashion-MNIST files correctly.

Each test writes a few tiny files in the real on-disk formats that torchvision reads
(CIFAR's pickled batches, MNIST's big-endian IDX files) and loads them through
``orchestrator.train.data.load_split``, so torchvision's own reading code runs. They prove:

* every training image comes back exactly (pixels, channel order, layout (N, C, H, W)),
  next to its own label, with the right number of classes;
* the training part is normalised to per-channel mean 0 and std 1, and the validation part
  with the training part's statistics;
* the official test split is never read;
* the validation split is fixed by ``data.split_seed``, and ``data.train_subset`` limits the
  training examples;
* missing files raise ``DataError`` naming the data set, the directory and the fix.

Every image carries its own identity: in each channel, pixel (0, 0) is 0 and pixel (0, 1)
is 255, so the per-channel affine normalisation can be undone image by image; pixel (0, 2)
is the image's index and pixel (0, 3) its label; the other pixels follow a pattern of the
index, channel and position.
"""

from __future__ import annotations

import hashlib
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets as tvd

from orchestrator.exceptions import DataError
from orchestrator.train.config import DataConfig
from orchestrator.train.data import Split, load_split

NUM_TRAIN = 60  # training images written per data set
NUM_TEST = 20  # official test images written (must never be read)
TEST_OFFSET = 200  # test images' indices start here, so none can pass for a training image
VAL_SIZE = 10


@dataclass(frozen=True)
class Layout:
    """What torchvision expects of one data set: class, classes, channels, image size."""

    torchvision_class: str
    num_classes: int
    channels: int
    size: int


LAYOUTS = {
    "cifar10": Layout("CIFAR10", 10, 3, 32),
    "cifar100": Layout("CIFAR100", 100, 3, 32),
    "mnist": Layout("MNIST", 10, 1, 28),
    "fashion_mnist": Layout("FashionMNIST", 10, 1, 28),
}


@dataclass(frozen=True)
class Written:
    """The training images (N, C, H, W) uint8 and labels (N,) that a test wrote."""

    images: np.ndarray
    labels: np.ndarray


def label_of(index: int, num_classes: int) -> int:
    """The label written for image ``index``: not the index itself, so alignment is tested."""
    return (7 * index + 3) % num_classes


def make_image(index: int, label: int, channels: int, size: int) -> np.ndarray:
    """One (C, H, W) uint8 image that encodes its index and label (see the module docstring)."""
    c = np.arange(channels).reshape(-1, 1, 1)
    row = np.arange(size).reshape(1, -1, 1)
    col = np.arange(size).reshape(1, 1, -1)
    image = ((index * 7 + c * 31 + row * 5 + col * 3) % 256).astype(np.uint8)
    image[:, 0, 0] = 0
    image[:, 0, 1] = 255
    image[:, 0, 2] = index
    image[:, 0, 3] = label
    return image


def make_images(indices: range, layout: Layout) -> Written:
    """Images and labels for ``indices``."""
    labels = [label_of(i, layout.num_classes) for i in indices]
    images = [
        make_image(i, label_of(i, layout.num_classes), layout.channels, layout.size)
        for i in indices
    ]
    return Written(np.stack(images), np.array(labels, dtype=np.int64))


def md5_of(path: Path) -> str:
    """The md5 hex digest of a file, as torchvision's ``check_integrity`` computes it."""
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_pickle(path: Path, entry: dict) -> str:
    """Pickle ``entry`` as CIFAR's python files are (protocol 2); return the file's md5."""
    with path.open("wb") as f:
        pickle.dump(entry, f, protocol=2)
    return md5_of(path)


def cifar_rows(images: np.ndarray) -> np.ndarray:
    """CIFAR's row format: (N, 3072) uint8, the red plane, then green, then blue."""
    return np.ascontiguousarray(images.reshape(images.shape[0], -1))


def write_cifar(
    root: Path, name: str, train: Written, test: Written, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Write CIFAR-10's five batches, test batch and meta, or CIFAR-100's train, test and meta.

    torchvision checks the md5 of every file against the real archive's sums, which tiny
    files cannot match. So the class attributes that hold the expected sums are replaced
    with the sums of the files written here; nothing else of torchvision is touched, so its
    real reading code runs.
    """
    cls = getattr(tvd, LAYOUTS[name].torchvision_class)
    folder = root / cls.base_folder
    folder.mkdir(parents=True)
    if name == "cifar10":
        label_key, names_key, meta_name = "labels", "label_names", "batches.meta"
        parts = np.array_split(np.arange(len(train.labels)), 5)  # data_batch_1 .. data_batch_5
        train_files = [(f"data_batch_{k + 1}", idx) for k, idx in enumerate(parts)]
        test_file = "test_batch"
        meta = {"label_names": [f"class{k}" for k in range(10)], "num_cases_per_batch": 12}
    else:
        label_key, names_key, meta_name = "fine_labels", "fine_label_names", "meta"
        train_files = [("train", np.arange(len(train.labels)))]
        test_file = "test"
        meta = {
            "fine_label_names": [f"fine{k}" for k in range(100)],
            "coarse_label_names": [f"coarse{k}" for k in range(20)],
        }

    def entry(written: Written, idx: np.ndarray, batch_label: str) -> dict:
        labels = [int(y) for y in written.labels[idx]]
        out = {
            "batch_label": batch_label,
            "data": cifar_rows(written.images[idx]),
            label_key: labels,
            "filenames": [f"img{int(i)}.png" for i in idx],
        }
        if name == "cifar100":
            out["coarse_labels"] = [y // 5 for y in labels]
        return out

    train_list = [
        [file, write_pickle(folder / file, entry(train, idx, file))] for file, idx in train_files
    ]
    all_test = np.arange(len(test.labels))
    test_list = [[test_file, write_pickle(folder / test_file, entry(test, all_test, "test"))]]
    meta_md5 = write_pickle(folder / meta_name, meta)
    # Why: the real md5 sums cannot match tiny files; point torchvision at these files' sums.
    monkeypatch.setattr(cls, "train_list", train_list)
    monkeypatch.setattr(cls, "test_list", test_list)
    monkeypatch.setattr(cls, "meta", {"filename": meta_name, "key": names_key, "md5": meta_md5})


def write_idx_images(path: Path, images: np.ndarray) -> None:
    """An IDX3 image file: magic 2051 (uint8, 3 dims), then N, H, W big-endian, then pixels."""
    n, h, w = images.shape
    path.write_bytes(struct.pack(">IIII", 2051, n, h, w) + images.astype(np.uint8).tobytes())


def write_idx_labels(path: Path, labels: np.ndarray) -> None:
    """An IDX1 label file: magic 2049 (uint8, 1 dim), then N big-endian, then the labels."""
    path.write_bytes(struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes())


def write_mnist(root: Path, name: str, train: Written, test: Written) -> None:
    """Write the four uncompressed IDX files under ``<root>/<MNIST|FashionMNIST>/raw/``.

    torchvision reads the uncompressed files (it only gunzips while downloading), and
    decides they exist by their names alone: no md5 is checked, so nothing is replaced.
    """
    raw = root / LAYOUTS[name].torchvision_class / "raw"
    raw.mkdir(parents=True)
    write_idx_images(raw / "train-images-idx3-ubyte", train.images[:, 0])
    write_idx_labels(raw / "train-labels-idx1-ubyte", train.labels)
    write_idx_images(raw / "t10k-images-idx3-ubyte", test.images[:, 0])
    write_idx_labels(raw / "t10k-labels-idx1-ubyte", test.labels)


def write_dataset(name: str, root: Path, monkeypatch: pytest.MonkeyPatch) -> Written:
    """Write ``NUM_TRAIN`` training and ``NUM_TEST`` test images of ``name``; return the former."""
    layout = LAYOUTS[name]
    train = make_images(range(NUM_TRAIN), layout)
    test = make_images(range(TEST_OFFSET, TEST_OFFSET + NUM_TEST), layout)
    if name.startswith("cifar"):
        write_cifar(root, name, train, test, monkeypatch)
    else:
        write_mnist(root, name, train, test)
    return train


def decode(x: torch.Tensor) -> torch.Tensor:
    """Undo any per-channel affine normalisation of (N, C, H, W) images: raw uint8 values.

    Pixel (0, 0) of every channel was written 0 and pixel (0, 1) 255, which pins both ends.
    """
    x = x.double()
    low, high = x[:, :, :1, :1], x[:, :, :1, 1:2]
    raw = (x - low) / (high - low) * 255.0
    rounded = raw.round()
    assert (raw - rounded).abs().max().item() < 1e-3, "pixels are not whole uint8 values"
    return rounded.to(torch.int64)


def indices_of(x: torch.Tensor) -> list[int]:
    """The written index of each image, read from its pixel (0, 2)."""
    return decode(x)[:, 0, 0, 2].tolist()


def assert_round_trip(x: torch.Tensor, y: torch.Tensor, written: Written) -> list[int]:
    """Each image equals the written image of its index, and sits next to that image's label."""
    raw = decode(x)
    idx = raw[:, 0, 0, 2].tolist()
    assert all(0 <= i < NUM_TRAIN for i in idx), f"images not from the training files: {idx}"
    expected = torch.from_numpy(written.images[idx].astype(np.int64))
    assert torch.equal(raw, expected)
    assert y.dtype == torch.int64
    assert y.tolist() == written.labels[idx].tolist()
    assert y.tolist() == raw[:, 0, 0, 3].tolist()  # the label encoded in the image itself
    return idx


def load(name: str, root: Path, **fields: object) -> Split:
    """``load_split`` of ``name`` under ``root`` with ``VAL_SIZE`` validation examples."""
    return load_split(DataConfig(name=name, root=str(root), val_size=VAL_SIZE, **fields))


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_training_files_round_trip_exactly(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = LAYOUTS[name]
    written = write_dataset(name, tmp_path, monkeypatch)

    split = load(name, tmp_path)

    shape = (layout.channels, layout.size, layout.size)
    assert split.x_train.shape == (NUM_TRAIN - VAL_SIZE, *shape)
    assert split.x_val.shape == (VAL_SIZE, *shape)
    assert split.y_train.shape == (NUM_TRAIN - VAL_SIZE,)
    assert split.y_val.shape == (VAL_SIZE,)
    assert split.input_shape == shape
    assert split.num_classes == layout.num_classes
    assert split.x_train.dtype == split.x_val.dtype == torch.float32

    train_idx = assert_round_trip(split.x_train, split.y_train, written)
    val_idx = assert_round_trip(split.x_val, split.y_val, written)
    # Every training image once, none from the test files (their indices start at 200).
    assert sorted(train_idx + val_idx) == list(range(NUM_TRAIN))
    labels = torch.cat([split.y_train, split.y_val]).tolist()
    assert sorted(labels) == sorted(written.labels.tolist())


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_normalised_with_training_statistics(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = write_dataset(name, tmp_path, monkeypatch)

    split = load(name, tmp_path)

    mean = split.x_train.mean(dim=(0, 2, 3))
    std = split.x_train.std(dim=(0, 2, 3))
    assert torch.allclose(mean, torch.zeros_like(mean), atol=1e-5)
    assert torch.allclose(std, torch.ones_like(std), atol=1e-4)

    # The validation part uses the training part's statistics, computed here from the files.
    raw = torch.from_numpy(written.images).double() / 255.0
    train_raw = raw[indices_of(split.x_train)]
    m = train_raw.mean(dim=(0, 2, 3), keepdim=True)
    s = train_raw.std(dim=(0, 2, 3), keepdim=True)
    expected_val = (raw[indices_of(split.x_val)] - m) / s
    assert torch.allclose(split.x_val.double(), expected_val, atol=1e-4)
    assert torch.allclose(split.x_train.double(), (train_raw - m) / s, atol=1e-4)


@pytest.mark.parametrize("name", ["cifar10", "mnist"])
def test_split_is_fixed_by_split_seed(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_dataset(name, tmp_path, monkeypatch)

    first = load(name, tmp_path, split_seed=0)
    again = load(name, tmp_path, split_seed=0)
    other = load(name, tmp_path, split_seed=1)

    assert indices_of(first.x_val) == indices_of(again.x_val)
    assert indices_of(first.x_train) == indices_of(again.x_train)
    assert torch.equal(first.x_val, again.x_val)
    assert torch.equal(first.y_val, again.y_val)
    assert set(indices_of(other.x_val)) != set(indices_of(first.x_val))
    assert sorted(indices_of(other.x_train) + indices_of(other.x_val)) == list(range(NUM_TRAIN))


@pytest.mark.parametrize("name", ["cifar10", "mnist"])
def test_train_subset_limits_training_examples(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = write_dataset(name, tmp_path, monkeypatch)

    full = load(name, tmp_path)
    subset = load(name, tmp_path, train_subset=20)

    assert subset.x_train.shape[0] == subset.y_train.shape[0] == 20
    sub_idx = assert_round_trip(subset.x_train, subset.y_train, written)
    assert set(sub_idx) <= set(indices_of(full.x_train))
    # The validation part is the same with or without the subset, and disjoint from it.
    assert indices_of(subset.x_val) == indices_of(full.x_val)
    assert not set(sub_idx) & set(indices_of(subset.x_val))
    # Statistics come from the subset actually trained on.
    mean = subset.x_train.mean(dim=(0, 2, 3))
    std = subset.x_train.std(dim=(0, 2, 3))
    assert torch.allclose(mean, torch.zeros_like(mean), atol=1e-5)
    assert torch.allclose(std, torch.ones_like(std), atol=1e-4)


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_missing_files_raise_data_error(name: str, tmp_path: Path) -> None:
    root = tmp_path / "empty"

    with pytest.raises(DataError) as info:
        load_split(DataConfig(name=name, root=str(root)))

    message = str(info.value)
    assert name in message
    assert str(root) in message
    assert "data.download=true" in message


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_corrupt_files_raise_data_error(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A truncated or garbled file is a DataError naming the data set, not a bare crash."""
    write_dataset(name, tmp_path, monkeypatch)
    layout = LAYOUTS[name]
    if name.startswith("cifar"):
        target = tmp_path / "cifar-10-batches-py" / "data_batch_1"
    else:
        target = tmp_path / layout.torchvision_class / "raw" / "train-images-idx3-ubyte"
    target.write_bytes(b"garbage")

    with pytest.raises(DataError) as info:
        load_split(DataConfig(name=name, root=str(tmp_path)))

    assert name in str(info.value)
    assert "data.download=true" in str(info.value)
