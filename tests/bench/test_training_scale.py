"""The training benchmark's panels train as generated, and both of its rates are measured."""

from __future__ import annotations

import torch

from app.ml.feasibility import problems
from app.ml.prepare import Prepared
from app.ml.roles import ColumnRoles
from bench.training_scale import CONFIG, MODEL, fit_rate, m4_like, plain_rate


def test_every_generated_series_holds_a_window_in_each_part() -> None:
    panel = m4_like(300, seed=1)
    assert min(panel.lengths) >= 72
    assert problems(MODEL, CONFIG, ColumnRoles.of(1), panel.series) == []


def test_the_fit_and_the_plain_loop_each_report_windows_per_second() -> None:
    data = Prepared.of(m4_like(40, seed=2), CONFIG, ColumnRoles.of(1), torch.device("cpu"))
    rate, windows = fit_rate(data, seconds=0.3)
    assert rate > 0
    assert windows == sum(len(s.starts("train", MODEL.lookback, MODEL.horizon))
                          for s in data.segments)  # fmt: skip
    assert plain_rate(seconds=0.3) > 0
