"""The forecaster: a stacked LSTM, an optional dense stack and a linear head."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

LSTMState = tuple[torch.Tensor, torch.Tensor]  # (h, c), each [num_layers, B, hidden_size]
# Smallest spread a window is divided by (model scale): a flat window is shifted, not blown up.
INSTANCE_NORM_FLOOR = 1e-3


@dataclass(frozen=True)
class LSTMConfig:
    """Everything needed to rebuild the module; stored in every checkpoint."""

    n_features: int
    lookback: int = 10
    horizon: int = 1
    hidden_size: int = 32
    num_layers: int = 2
    dropout: float = 0.0  # between LSTM layers
    dense_layers: tuple[int, ...] = field(default_factory=tuple)
    # Predict the change from the last input rather than the level: the model starts as the naive
    # last-value forecast and learns the correction, which is far easier to get precise.
    residual: bool = True
    # Normalise each window by its own mean and spread (and the prediction back), so a series
    # whose level or amplitude grows past the training range still looks familiar to the LSTM.
    instance_norm: bool = False
    # Rows per LSTM step: the window is cut into lookback / patch chunks of patch rows each, so
    # a long window (1,000 samples of a vibration) takes 10 LSTM steps instead of 1,000.
    patch: int = 1

    def __post_init__(self) -> None:
        if self.patch < 1 or self.lookback % self.patch:
            raise ValueError(f"lookback {self.lookback} is not a multiple of patch {self.patch}")

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form."""
        data = asdict(self)
        data["dense_layers"] = list(self.dense_layers)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> LSTMConfig:
        """Inverse of `to_dict`; raises TypeError or ValueError on a malformed entry."""
        values = dict(data)
        values["dense_layers"] = tuple(int(v) for v in values.get("dense_layers", ()))  # type: ignore[attr-defined]
        return cls(**values)  # type: ignore[arg-type]


class LSTMForecaster(nn.Module):
    """Maps a window to the next `horizon` steps.

    forward(x [B, T, F], state) -> (prediction [B, horizon, F], state); `state` is the (h, c)
    after the last input step, so a caller may continue the sequence from it. T must be a
    multiple of `patch`.
    """

    def __init__(self, config: LSTMConfig) -> None:
        super().__init__()
        self.config = config
        self.lstm = nn.LSTM(
            input_size=config.n_features * config.patch,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        layers: list[nn.Module] = []
        width = config.hidden_size
        for size in config.dense_layers:
            layers += [nn.Linear(width, size), nn.Tanh()]
            width = size
        self.dense = nn.Sequential(*layers)
        self.head = nn.Linear(width, config.horizon * config.n_features)
        if config.residual:
            nn.init.zeros_(self.head.weight)  # start exactly at the naive forecast
            nn.init.zeros_(self.head.bias)

    def forward(
        self, x: torch.Tensor, state: LSTMState | None = None
    ) -> tuple[torch.Tensor, LSTMState]:
        """x: [B, T, F] -> ([B, horizon, F], state)."""
        if self.config.instance_norm:
            center = x.mean(dim=1, keepdim=True)  # [B, 1, F]
            spread = x.std(dim=1, keepdim=True, unbiased=False).clamp_min(INSTANCE_NORM_FLOOR)
            x = (x - center) / spread
        chunks = x.reshape(x.shape[0], -1, self.config.patch * x.shape[2])  # [B, T/patch, P*F]
        out, state = self.lstm(chunks, state)  # out: [B, T/patch, hidden]
        last = self.dense(out[:, -1])  # [B, hidden] -> [B, width]
        step = self.head(last).view(x.shape[0], self.config.horizon, self.config.n_features)
        if self.config.residual:
            step = step + x[:, -1:, :]  # [B, H, F] + [B, 1, F]
        if self.config.instance_norm:
            step = step * spread + center
        return step, state
