"""The network: a dense net over the 64 pixels of an 8x8 digit (cf. the template's
``SimpleDenseNet``)."""

from __future__ import annotations

from torch import nn


class DigitsNet(nn.Module):
    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int, dropout: float, output_size: int
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = input_size
        for _ in range(num_layers):
            layers += [nn.Linear(width, hidden_size), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden_size
        self.model = nn.Sequential(*layers, nn.Linear(width, output_size))

    def forward(self, x):  # noqa: ANN001, ANN201 - the template's style
        return self.model(x)
