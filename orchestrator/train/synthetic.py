"""A seeded synthetic image-classification data set that behaves like a small real one.

Why this shape: the default data set must make the playbook's questions have real
answers offline. Each class is a *conjunction* of two small parts at a fixed relative
offset, and every part is shared by several classes, so seeing one part is not enough:
a network needs a receptive field that spans both parts (depth and width matter).
Parts land at random positions and whole images are mirrored at random, so
random-crop and flip augmentation preserve the label (augmentation helps). A fraction
of labels is replaced at random and a distractor part is added, so accuracy is capped
below 100% and a big model can overfit (regularisation matters). Inputs are roughly
unit-scale, so a too-high learning rate diverges as it would on real images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PART_SIZE = 7  # pixels; small enough that two parts fit side by side in 16 px
NUM_PARTS = 8  # pool of parts shared by the classes
OFFSETS = ((0, 9), (9, 0), (6, 6), (-6, 6))  # (dy, dx) of the second part from the first


def _smooth(x: torch.Tensor, passes: int) -> torch.Tensor:
    """Blur (N, C, H, W) noise with a 3x3 box filter to give it spatial structure."""
    kernel = torch.full((x.shape[1], 1, 3, 3), 1.0 / 9.0)
    for _ in range(passes):
        x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=x.shape[1])
    return x


def _unit(x: torch.Tensor) -> torch.Tensor:
    """Scale each pattern to zero mean and unit standard deviation."""
    flat = x.flatten(1)
    flat = (flat - flat.mean(1, keepdim=True)) / flat.std(1, keepdim=True).clamp_min(1e-6)
    return flat.view_as(x)


def _class_recipes(num_classes: int, g: torch.Generator) -> list[tuple[int, int, int]]:
    """Give every class a distinct (first part, second part, offset index) triple."""
    combos = [
        (a, b, o)
        for a in range(NUM_PARTS)
        for b in range(NUM_PARTS)
        for o in range(len(OFFSETS))
        if a != b
    ]
    order = torch.randperm(len(combos), generator=g)[:num_classes]
    return [combos[i] for i in order.tolist()]


def make_synthetic(
    *,
    num_examples: int,
    num_classes: int,
    channels: int,
    image_size: int,
    label_noise: float,
    seed: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generate ``(images float32 (N, C, S, S), labels int64 (N,))`` from ``seed``.

    The same arguments always give the same tensors (a worker generates them once: its
    ``TrainerCache`` keeps the loaded split).
    """
    if num_classes > NUM_PARTS * (NUM_PARTS - 1) * len(OFFSETS):
        raise ValueError(f"at most {NUM_PARTS * (NUM_PARTS - 1) * len(OFFSETS)} classes")
    g = torch.Generator().manual_seed(seed)
    parts = _unit(_smooth(torch.randn(NUM_PARTS, channels, PART_SIZE, PART_SIZE, generator=g), 1))
    recipes = _class_recipes(num_classes, g)

    labels = torch.randint(num_classes, (num_examples,), generator=g)
    low = max(image_size // 4, 2)
    background = torch.randn(num_examples, channels, low, low, generator=g)
    images = 0.6 * F.interpolate(background, size=image_size, mode="bilinear")
    images += 0.5 * torch.randn(num_examples, channels, image_size, image_size, generator=g)

    span = image_size - PART_SIZE
    for i, label in enumerate(labels.tolist()):
        a, b, o = recipes[label]
        dy, dx = OFFSETS[o]
        y0 = int(torch.randint(max(0, -dy), span - max(0, dy) + 1, (1,), generator=g))
        x0 = int(torch.randint(max(0, -dx), span - max(0, dx) + 1, (1,), generator=g))
        _paste(images[i], parts[a], y0, x0)
        _paste(images[i], parts[b], y0 + dy, x0 + dx)
        # A distractor part anywhere: the part alone does not identify a class.
        d = int(torch.randint(NUM_PARTS, (1,), generator=g))
        yd, xd = (int(v) for v in torch.randint(span + 1, (2,), generator=g))
        _paste(images[i], 0.7 * parts[d], yd, xd)

    mirror = torch.rand(num_examples, generator=g) < 0.5
    images[mirror] = images[mirror].flip(-1)
    contrast = 0.8 + 0.4 * torch.rand(num_examples, 1, 1, 1, generator=g)
    images *= contrast

    noisy = torch.rand(num_examples, generator=g) < label_noise
    labels[noisy] = torch.randint(num_classes, (int(noisy.sum()),), generator=g)
    return images.contiguous(), labels


def _paste(image: torch.Tensor, part: torch.Tensor, y: int, x: int) -> None:
    """Add ``part`` into ``image`` (C, S, S) with its top-left corner at (y, x), in place."""
    image[:, y : y + PART_SIZE, x : x + PART_SIZE] += part
