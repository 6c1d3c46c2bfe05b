"""Each model builds from config with the requested structure and produces class logits."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn as nn

from orchestrator.train.config import ModelConfig
from orchestrator.train.models import CNN, ConvBlock, build_model


@pytest.mark.parametrize(
    ("name", "norm", "activation"),
    list(itertools.product(["mlp", "cnn"], ["batch", "layer", "none"], ["relu", "gelu", "tanh"])),
)
def test_logits_shape_for_every_norm_and_activation(name, norm, activation):
    cfg = ModelConfig(name=name, depth=2, width=8, norm=norm, activation=activation)
    model = build_model(cfg, (3, 16, 16), 7)
    assert model(torch.randn(4, 3, 16, 16)).shape == (4, 7)
    acts = {type(m) for m in model.modules()}
    assert {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}[activation] in acts
    norms = {"batch": {nn.BatchNorm1d, nn.BatchNorm2d}, "layer": {nn.LayerNorm, nn.GroupNorm}}
    assert bool(acts & norms.get(norm, set())) == (norm != "none")


@pytest.mark.parametrize("depth", [1, 2, 3, 5, 8])
def test_cnn_depth_is_the_number_of_conv_blocks_and_pools_stop_at_4px(depth):
    model = build_model(ModelConfig(depth=depth, width=8), (3, 32, 32), 10)
    blocks = [m for m in model.modules() if isinstance(m, ConvBlock)]
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool2d)]
    assert len(blocks) == depth
    assert len(pools) == min(depth, 3)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_residual_adds_the_input_when_widths_match():
    cfg = ModelConfig(depth=3, width=8, residual=True, norm="none")
    model = build_model(cfg, (3, 16, 16), 10)
    assert isinstance(model, CNN)
    blocks = [m for m in model.modules() if isinstance(m, ConvBlock)]
    assert [b.residual for b in blocks] == [False, True, True]  # 3 -> 8 channels has no skip
    block, x = blocks[1], torch.randn(1, 8, 8, 8)
    with torch.no_grad():
        assert torch.allclose(block(x), x + block.act(block.conv(x)))


def test_dropout_only_when_switched_on():
    def dropouts(use: bool) -> list[nn.Dropout]:
        cfg = ModelConfig(depth=2, width=8, use_dropout=use, dropout=0.3)
        return [
            m for m in build_model(cfg, (3, 16, 16), 10).modules() if isinstance(m, nn.Dropout)
        ]

    assert dropouts(False) == []
    on = dropouts(True)
    assert len(on) == 3 and all(d.p == 0.3 for d in on)  # after each block and before the head


def test_kaiming_and_xavier_set_the_weight_scale():
    def conv_std(init: str, activation: str) -> float:
        torch.manual_seed(0)
        cfg = ModelConfig(depth=2, width=64, init=init, activation=activation)
        model = build_model(cfg, (3, 32, 32), 10)
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        return float(convs[1].weight.detach().std())

    fan_in = 64 * 9
    assert conv_std("kaiming", "relu") == pytest.approx((2 / fan_in) ** 0.5, rel=0.05)
    # xavier_uniform with tanh gain 5/3: std = gain * sqrt(2 / (fan_in + fan_out))
    assert conv_std("xavier", "tanh") == pytest.approx(5 / 3 * (2 / (2 * fan_in)) ** 0.5, rel=0.05)
    assert conv_std("default", "relu") < conv_std("kaiming", "relu") / 2


@pytest.mark.parametrize(("shape", "classes"), [((3, 32, 32), 100), ((1, 28, 28), 10)])
def test_resnet18_adapted_to_small_images(shape, classes):
    model = build_model(ModelConfig(name="resnet18"), shape, classes)
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, nn.Identity)
    assert model.conv1.in_channels == shape[0]
    model.eval()
    assert model(torch.randn(2, *shape)).shape == (2, classes)
