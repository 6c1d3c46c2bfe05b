"""The device-resident loader: crops are shifted windows, flips are mirrors, epochs cover all."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from orchestrator.train.loader import DeviceBatches, random_crop, random_hflip


def numbered_images(n: int, c: int = 2, h: int = 8, w: int = 8) -> torch.Tensor:
    """Every pixel of every image is distinct and > 0, so a window can be located exactly."""
    return torch.arange(1, n * c * h * w + 1, dtype=torch.float32).view(n, c, h, w)


def locate_window(out: torch.Tensor, padded: torch.Tensor) -> tuple[int, int] | None:
    """The (dy, dx) where ``out`` (C, H, W) sits inside ``padded`` (C, H+2p, W+2p), if any."""
    h, w = out.shape[1:]
    for dy in range(padded.shape[1] - h + 1):
        for dx in range(padded.shape[2] - w + 1):
            if torch.equal(padded[:, dy : dy + h, dx : dx + w], out):
                return dy, dx
    return None


def test_crop_is_a_window_of_the_zero_padded_image_at_a_random_offset():
    images, pad = numbered_images(64), 2
    out = random_crop(images, pad, torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    padded = F.pad(images, (pad, pad, pad, pad))
    offsets = [locate_window(out[i], padded[i]) for i in range(len(images))]
    assert all(o is not None for o in offsets)
    assert all(0 <= dy <= 2 * pad and 0 <= dx <= 2 * pad for dy, dx in offsets)
    assert len(set(offsets)) >= 15  # drawn per image (25 possible), not one per batch
    for i, offset in enumerate(offsets):  # pixels are > 0: only a shifted crop shows padding
        assert bool((out[i] == 0).any()) == (offset != (pad, pad))


def test_crop_with_zero_padding_is_the_identity():
    images = numbered_images(4)
    assert torch.equal(random_crop(images, 0, torch.Generator()), images)


def test_flip_mirrors_about_half_of_the_images_left_right():
    images = numbered_images(400)
    out = random_hflip(images, torch.Generator().manual_seed(1))
    same = torch.tensor([torch.equal(o, i) for o, i in zip(out, images, strict=True)])
    mirrored = torch.tensor([torch.equal(o, i.flip(-1)) for o, i in zip(out, images, strict=True)])
    assert bool((same | mirrored).all())  # nothing else happens to an image
    assert 150 < int(mirrored.sum()) < 250


def test_an_epoch_visits_every_example_once_with_labels_kept_aligned():
    images = numbered_images(50)
    labels = torch.arange(50)
    batches = DeviceBatches(images, labels, batch_size=10, generator=torch.Generator())
    seen = list(itertools.islice(iter(batches), 5))
    for x, y in seen:
        assert x.shape == (10, 2, 8, 8)
        assert torch.equal(x, images[y])  # no augmentation: each image is its label's image
    assert sorted(torch.cat([y for _, y in seen]).tolist()) == list(range(50))


def test_drop_last_and_reshuffle_between_epochs():
    labels = torch.arange(25)
    batches = iter(
        DeviceBatches(numbered_images(25), labels, batch_size=10, generator=torch.Generator())
    )
    first = [next(batches)[1] for _ in range(2)]  # epoch 1: two full batches, 5 dropped
    second = [next(batches)[1] for _ in range(2)]
    assert all(len(y) == 10 for y in first + second)
    assert not torch.equal(torch.cat(first), torch.cat(second))


def test_same_generator_seed_gives_the_same_augmented_batches():
    def draw(seed: int) -> torch.Tensor:
        b = DeviceBatches(
            numbered_images(40),
            torch.arange(40),
            batch_size=8,
            generator=torch.Generator().manual_seed(seed),
            crop_padding=2,
            hflip=True,
        )
        return torch.cat([x for x, _ in itertools.islice(iter(b), 3)])

    assert torch.equal(draw(3), draw(3))
    assert not torch.equal(draw(3), draw(4))


def test_batch_larger_than_the_data_set_is_refused():
    with pytest.raises(ValueError, match="batch_size=64 is larger than the 10 training examples"):
        DeviceBatches(
            numbered_images(10), torch.arange(10), batch_size=64, generator=torch.Generator()
        )
