"""The forecaster: stacked recurrent layers (LSTM or GRU), an optional dense stack and a
linear head."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from typing import Literal

import torch
from torch import nn

from app.ml.fields import DESCRIPTION, described
from app.ml.problems import Infeasible, Problem
from app.ml.roles import ColumnRoles

# Smallest spread a window is divided by (model scale): a flat window is shifted, not blown up.
INSTANCE_NORM_FLOOR = 1e-3
MAX_ENSEMBLE = 16  # members of one ensemble, at most
CellKind = Literal["lstm", "gru"]
# What the recurrent layers carry from one step to the next: (h, c) for an LSTM, h for a GRU,
# each [num_layers, B, hidden_size].
RecurrentState = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class Cell:
    """What a recurrent cell kind is made of."""

    module: type[nn.LSTM] | type[nn.GRU]  # torch's layers of this cell
    gates: int  # blocks of hidden_size rows in its weight matrices and each of its biases
    state: tuple[str, ...]  # what it carries: ("h", "c") is a tuple, ("h",) a tensor


CELLS: dict[str, Cell] = {
    "lstm": Cell(nn.LSTM, gates=4, state=("h", "c")),  # gates i, f, g, o
    "gru": Cell(nn.GRU, gates=3, state=("h",)),  # gates r, z, n
}


def detach_state(state: RecurrentState) -> RecurrentState:
    """`state` cut from the graph that made it (the values carried on, no gradient back)."""
    if isinstance(state, torch.Tensor):
        return state.detach()
    h, c = state
    return h.detach(), c.detach()


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the module; stored in every checkpoint."""

    n_features: int
    lookback: int = 10
    horizon: int = 1
    cell: CellKind = described(
        "lstm", "the recurrent cell: lstm, or gru (3 gates to the LSTM's 4, no cell state)"
    )
    hidden_size: int = 32
    num_layers: int = 2
    dropout: float = described(0.0, "between recurrent layers")
    dense_layers: tuple[int, ...] = field(
        default_factory=tuple,
        metadata={DESCRIPTION: "widths of tanh layers after the recurrent layers"},
    )
    # The naive last-value forecast is where the model starts; the correction it learns is far
    # easier to get precise than the level.
    residual: bool = described(
        True, "predict the change from the last input (starts at the naive forecast)"
    )
    # The prediction is scaled back by the same mean and spread, so a series whose level or
    # amplitude grows past the training range still looks familiar to the recurrent layers.
    instance_norm: bool = described(
        False,
        "normalise each window by its own mean and spread, on top of the global scaling: for "
        "series whose level or amplitude grows beyond the training range",
    )
    # The window is cut into lookback / patch chunks of patch rows each.
    patch: int = described(
        1,
        "rows each recurrent step sees (lookback must be a multiple): a window of 1,000 samples "
        "with patch 100 is 10 steps",
    )
    # For each predicted column, its position among the input columns, or -1 for a target that
    # is not an input (forecast from known covariates). Empty: the targets are the inputs.
    # Always `ColumnRoles.target_inputs` of the roles the model was built for; see `roles`.
    target_inputs: tuple[int, ...] = ()
    # Added to the recurrent layers' output: the linear part of a relation (a cosine from past
    # sines) is then exact at once instead of being approximated through their tanh gates.
    highway: bool = described(
        False,
        "add a linear map from the whole window to the output (LSTNet's highway): learns the "
        "linear part of a relation at once, e.g. a target column from covariates",
    )

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, not {self.cell!r}")
        if self.patch < 1 or self.lookback % self.patch:
            raise Infeasible(
                Problem(
                    "patch", f"lookback {self.lookback} must be a multiple of patch {self.patch}"
                )
            )
        if any(not -1 <= index < self.n_features for index in self.target_inputs):
            raise ValueError("target_inputs must name input positions (or -1)")
        if self.instance_norm and self.lookback < 2:
            raise Infeasible(
                Problem(
                    "instance_norm",
                    "instance normalisation needs a lookback of at least 2 rows (a single row "
                    "normalises to zero)",
                )
            )
        if (self.residual or self.instance_norm) and not self.roles.residual_possible:
            raise Infeasible(
                Problem(
                    "instance_norm" if self.instance_norm else "residual",
                    "residual output and instance normalisation need every target among the inputs",
                )
            )

    @cached_property
    def roles(self) -> ColumnRoles:
        """The column roles `target_inputs` records, in the model's own columns."""
        return ColumnRoles.of_model(self.n_features, self.target_inputs)

    @property
    def n_outputs(self) -> int:
        """Columns predicted per step."""
        return len(self.roles.targets)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form."""
        data = asdict(self)
        data["dense_layers"] = list(self.dense_layers)
        data["target_inputs"] = list(self.target_inputs)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ModelConfig:
        """Inverse of `to_dict`; raises TypeError or ValueError on a malformed entry."""
        values = dict(data)
        values["dense_layers"] = tuple(int(v) for v in values.get("dense_layers", ()))  # type: ignore[attr-defined]
        values["target_inputs"] = tuple(int(v) for v in values.get("target_inputs", ()))  # type: ignore[attr-defined]
        return cls(**values)  # type: ignore[arg-type]


class RecurrentForecaster(nn.Module):
    """Maps a window to the next `horizon` steps through recurrent layers of `config.cell`.

    forward(x [B, T, F], state) -> (prediction [B, horizon, O], state); `state` is the
    `RecurrentState` after the last input step ((h, c) for an LSTM, h for a GRU), so a caller
    may continue the sequence from it. T must be a multiple of `patch`.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        # An nn.LSTM or nn.GRU (checkpoints of the releases that knew only the LSTM name it
        # "lstm": `app.ml.checkpoints.load` reads them under this name)
        self.recurrent = CELLS[config.cell].module(
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
        self.head = nn.Linear(width, config.horizon * config.n_outputs)
        if config.residual:
            nn.init.zeros_(self.head.weight)  # start exactly at the naive forecast
            nn.init.zeros_(self.head.bias)
        self.highway = (
            nn.Linear(config.lookback * config.n_features, config.horizon * config.n_outputs)
            if config.highway
            else None
        )
        if self.highway is not None:
            nn.init.zeros_(self.highway.weight)  # adds nothing until trained
            nn.init.zeros_(self.highway.bias)

    def next_steps(
        self, x: torch.Tensor, state: RecurrentState | None = None
    ) -> tuple[torch.Tensor, RecurrentState]:
        """The view of training that scores every step: x [B, T, F] -> (the next `horizon` rows
        after every patch [B, T / patch, horizon, O], state). The output after the window's
        last patch is `forward`'s; later ones continue the carried state, as a state rollout
        does. Needs no instance norm and no highway (window-only parts)."""
        step, state = self._steps(x, state, every_patch=True)
        return self._plus_last_rows(step, x), state

    def forward(
        self, x: torch.Tensor, state: RecurrentState | None = None
    ) -> tuple[torch.Tensor, RecurrentState]:
        """x: [B, T, F] -> ([B, horizon, O], state): `next_steps` after the last patch only,
        with the parts that read the whole window (instance norm, highway) around it."""
        config = self.config
        if config.instance_norm:
            center = x.mean(dim=1, keepdim=True)  # [B, 1, F]
            spread = x.std(dim=1, keepdim=True, unbiased=False).clamp_min(INSTANCE_NORM_FLOOR)
            x = (x - center) / spread
        step, state = self._steps(x, state, every_patch=False)  # [B, 1, H, O]
        if self.highway is not None:
            step = step + self.highway(x.flatten(1)).view_as(step)
        step = self._plus_last_rows(step, x)[:, 0]  # [B, H, O]
        if config.instance_norm:
            outputs = config.roles.target_input_positions
            step = step * spread[:, :, outputs] + center[:, :, outputs]
        return step, state

    def _steps(
        self, x: torch.Tensor, state: RecurrentState | None, every_patch: bool
    ) -> tuple[torch.Tensor, RecurrentState]:
        """The recurrent layers over the patches of x [B, T, F], then the dense layers and the
        head on the top h after every patch -> ([B, T / patch, H, O], state), or after the
        last patch only -> ([B, 1, H, O], state)."""
        config = self.config
        chunks = x.reshape(x.shape[0], -1, config.patch * x.shape[2])  # [B, T/patch, P*F]
        out, state = self.recurrent(chunks, state)  # out: [B, T/patch, hidden]
        if not every_patch:
            out = out[:, -1]  # [B, hidden]
        step = self.head(self.dense(out))  # [.., H * O]
        return step.view(x.shape[0], -1, config.horizon, config.n_outputs), state

    def _plus_last_rows(self, step: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """With a residual output: step [B, S, H, O], made after the last S patches of
        x [B, T, F], plus the last row of each of those patches (the naive forecast)."""
        config = self.config
        if not config.residual:
            return step
        ends = x[:, config.patch - 1 :: config.patch][:, -step.shape[1] :]  # [B, S, F]
        return step + ends[:, :, None, config.roles.target_input_positions]  # + [B, S, 1, O]


def lookbacks_fit(lookbacks: Sequence[int], members: int, config: ModelConfig) -> bool:
    """Whether `lookbacks` give each of `members` ensemble members a window: one each, the
    longest the config's (what a context gives), each a positive multiple of the patch."""
    return (
        len(lookbacks) == members
        and max(lookbacks, default=0) == config.lookback
        and all(rows >= 1 and rows % config.patch == 0 for rows in lookbacks)
    )


class EnsembleForecaster(nn.Module):
    """Members fitted from different seeds, and possibly windows of different lengths: a call
    answers the median of their predictions, which one member gone astray cannot move far.
    Each member reads the last rows of the window its own lookback asks for; `config` is the
    longest. Rolled out by window only: members carry states of their own, so there is no one
    state to continue from.

    forward(x [B, T, F]) -> (prediction [B, horizon, O], None).
    """

    def __init__(
        self,
        config: ModelConfig,
        members: int | list[RecurrentForecaster],
        lookbacks: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        count = members if isinstance(members, int) else len(members)
        if isinstance(members, int):  # to be filled by load_state_dict
            lookbacks = lookbacks or [config.lookback] * members
            members = [RecurrentForecaster(replace(config, lookback=rows)) for rows in lookbacks]
        if count < 2:
            raise ValueError("an ensemble needs at least two members")
        self.lookbacks = [member.config.lookback for member in members]  # each member's
        if not lookbacks_fit(self.lookbacks, count, config):
            raise ValueError(
                "an ensemble needs one lookback per member, the longest member's the window's"
            )
        self.members = nn.ModuleList(members)

    def forward(
        self, x: torch.Tensor, state: RecurrentState | None = None
    ) -> tuple[torch.Tensor, None]:
        """x: [B, T, F] -> (the members' median [B, horizon, O], None)."""
        if state is not None:
            raise ValueError("an ensemble rolls out by window: it carries no state")
        predictions = torch.stack(
            [
                member(x[:, -rows:])[0]
                for member, rows in zip(self.members, self.lookbacks, strict=True)
            ]
        )
        return torch.quantile(predictions, 0.5, dim=0), None


Forecaster = RecurrentForecaster | EnsembleForecaster
