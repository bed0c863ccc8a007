"""A sanity check of the M3 data and measures: counts, monthly lengths, baseline errors.

Prints the number of series per group, the min/median/max training length of monthly, and the
mean sMAPE and MASE over M3 monthly (h=18) of the seasonal naive forecast, and of the plain naive
one for comparison. The published anchor is Naive2 (naive on seasonally adjusted data): sMAPE
16.91 on monthly.

Needs the `bench` extra. Run from the repository root: `python -m bench.m3_check`.
"""

from __future__ import annotations

import numpy as np

from bench.competition_data import Series, mase, seasonal_naive, smape
from bench.m3 import GROUPS, load_m3


def baseline_errors(series: list[Series], season: int) -> tuple[float, float]:
    """Mean sMAPE and mean MASE of the seasonal naive forecast with period `season`."""
    smapes, mases = [], []
    for s in series:
        forecast = seasonal_naive(s.train, s.horizon, season)
        smapes.append(smape(s.test, forecast))
        mases.append(mase(s.train, s.test, forecast, s.season))
    return float(np.mean(smapes)), float(np.mean(mases))


def main() -> None:
    """Print the figures."""
    for group in GROUPS:
        print(f"{group:<10} {len(load_m3(group)):>5} series")
    monthly = load_m3("monthly")
    lengths = [s.train.size for s in monthly]
    print(
        f"monthly train length: min {min(lengths)}, median {np.median(lengths):g}, "
        f"max {max(lengths)}"
    )
    for name, season in (("seasonal naive", 12), ("naive", 1)):
        mean_smape, mean_mase = baseline_errors(monthly, season)
        print(f"M3 monthly h=18 {name:<14}: sMAPE {mean_smape:.2f}  MASE {mean_mase:.3f}")
    print("published anchor: Naive2 sMAPE 16.91 on M3 monthly")


if __name__ == "__main__":
    main()
