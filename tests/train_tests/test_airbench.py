"""The airbench-style net: its structure, its initialisation, and that it learns fast."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from orchestrator.train.airbench import AirbenchBatchNorm, AirbenchNet, ConvGroup, WhiteningStem
from orchestrator.train.config import ModelConfig
from orchestrator.train.loop import fit
from orchestrator.train.models import build_model
from tests.support.experiments import tiny_experiment


def airbench(width: int = 8, depth: int = 3, **fields: object) -> ModelConfig:
    return ModelConfig(name="airbench", width=width, depth=depth, activation="gelu", **fields)


def test_airbench94_shape_widths_and_parameter_count():
    model = build_model(airbench(width=64), (3, 32, 32), 10)
    assert isinstance(model, AirbenchNet)
    groups = [m for m in model.modules() if isinstance(m, ConvGroup)]
    assert [g.conv2.out_channels for g in groups] == [64, 256, 256]  # airbench94's widths
    assert model.stem.conv.out_channels == 24  # 2 x 3 channels x 2 x 2 patch
    # airbench94: "about 2M parameters"
    assert 1.9e6 < sum(p.numel() for p in model.parameters()) < 2.0e6
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_only_the_stem_bias_and_batch_norm_shifts_of_the_fixed_parts_train():
    model = build_model(airbench(), (3, 32, 32), 10)
    assert not model.stem.conv.weight.requires_grad and model.stem.conv.bias.requires_grad
    norms = [m for m in model.modules() if isinstance(m, AirbenchBatchNorm)]
    assert len(norms) == 6
    assert all(not n.weight.requires_grad and n.bias.requires_grad for n in norms)
    assert all(n.eps == 1e-12 and n.momentum == pytest.approx(0.4) for n in norms)
    assert model.head.bias is None


@pytest.mark.parametrize(("shape", "pools"), [((3, 32, 32), 3), ((1, 28, 28), 3), ((3, 8, 8), 2)])
def test_groups_pool_while_the_image_is_at_least_2px(shape, pools):
    model = build_model(airbench(), shape, 7)
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == pools
    assert model(torch.randn(2, *shape)).shape == (2, 7)


def test_other_norms_replace_the_airbench_batch_norm():
    model = build_model(airbench(norm="layer"), (3, 16, 16), 10)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in model.modules())


def test_group_convolutions_start_as_identities():
    model = build_model(airbench(width=8), (3, 16, 16), 10)
    conv = model.groups[1].conv2  # 32 -> 32 channels: the whole conv is the identity
    x = torch.randn(2, 32, 8, 8)
    with torch.no_grad():
        assert torch.allclose(conv(x), x)
    first = model.groups[0].conv1  # 24 -> 8: the first filters pass input channels through
    assert torch.equal(first.weight[0, 0, 1, 1], torch.tensor(1.0))


def test_the_stem_whitens_the_patches_of_the_images_it_was_fitted_to():
    torch.manual_seed(0)
    # correlated channels and neighbouring pixels: far from white to start with
    mixing = torch.tensor([[1.0, 0.0, 0.0], [0.9, 0.4, 0.0], [-0.5, 0.3, 0.8]])
    images = torch.einsum("dc,nchw->ndhw", mixing, torch.randn(256, 3, 12, 12))
    images = images + 0.5 * images.roll(1, dims=3)
    stem = WhiteningStem(3)
    stem.fit_to(images, chunk=100)  # chunks: the covariance is accumulated, not held at once
    with torch.no_grad():
        out = nn.functional.conv2d(images, stem.conv.weight)  # no bias
    half = out[:, :12].permute(0, 2, 3, 1).reshape(-1, 12).double()
    cov = half.T @ half / half.shape[0]
    # whitened up to the eps added to the eigenvalues (it only shrinks tiny directions)
    assert torch.allclose(cov.diagonal(), torch.ones(12, dtype=torch.float64), atol=0.1)
    off = cov - torch.diag(cov.diagonal())
    assert off.abs().max() < 0.05
    assert torch.equal(out[:, 12:], -out[:, :12])  # the negated copy


def test_fit_whitens_the_stem_from_its_training_images(monkeypatch):
    from orchestrator.train import loop

    seen: dict[str, torch.Tensor] = {}

    def spy(*args, init_data=None, **kwargs):
        seen["init_data"] = init_data
        return build_model(*args, init_data=init_data, **kwargs)

    monkeypatch.setattr(loop, "build_model", spy)
    cfg = tiny_experiment(steps=2, eval_every=2)
    cfg.model = airbench(width=8, depth=2)
    fit(cfg)
    images = seen["init_data"]
    assert images.shape == (900, 3, 16, 16)  # the training part: 1200 examples - 300 held out
    stem = WhiteningStem(3)
    stem.fit_to(images)
    model = build_model(cfg.model, (3, 16, 16), 10, init_data=images)
    assert torch.allclose(model.stem.conv.weight, stem.conv.weight)
    unfitted = build_model(cfg.model, (3, 16, 16), 10)
    assert not torch.allclose(unfitted.stem.conv.weight, stem.conv.weight)


def test_airbench_learns_the_synthetic_task_far_better_than_chance_in_40_steps():
    cfg = tiny_experiment(steps=40, eval_every=20)
    cfg.model = airbench(width=16, depth=3)
    cfg.optimizer.lr = 0.2  # the 1/9 logit scale wants a higher rate than the small CNN
    result = fit(cfg)
    assert result.status == "completed"
    assert result.objective < 0.4  # chance is 0.9 on 10 classes
    assert result.curves.train_loss[-1] < result.curves.train_loss[0] - 0.5
