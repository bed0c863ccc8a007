"""Where conformal intervals are calibrated and what a band says of itself: the rollout
origins and plan over the held-out parts, and each level's calibrated steps and note."""

from __future__ import annotations

import numpy as np
import pytest

from app.ml.data import Split, segments_of
from app.ml.intervals import MAX_CALIBRATION_ORIGINS, band_mark, origins, plan_rollouts

# --- what a band says of itself ------------------------------------------------------------------


def test_a_band_calibrated_at_every_step_says_nothing_more() -> None:
    assert band_mark(95, [40, 39, 38], 3, 12, 96.5) == (3, None, 96.5)


def test_a_band_with_too_few_residuals_says_it_is_the_largest_error_seen() -> None:
    counts = [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    steps, note, _ = band_mark(80, counts, 12, 12, None)
    assert steps == 9
    assert note is not None
    assert note.startswith("steps 10-12: the largest error seen in calibration, not a calibrated")
    assert "3 residuals or fewer a step: at most a 75% interval; 80% needs 4" in note
    steps, note, _ = band_mark(99, counts, 12, 12, None)
    assert steps == 0
    assert note is not None
    assert note.startswith("steps 1-12: the largest error seen")
    assert "at most a 92% interval; 99% needs 99" in note


def test_a_band_past_the_calibrated_steps_says_it_keeps_the_last_width() -> None:
    steps, note, _ = band_mark(50, [5, 4, 3], 7, 3, None)
    assert steps == 3
    assert note == "steps 4-7: step 3's width, kept past the calibrated steps"
    _, both, _ = band_mark(80, [5, 4, 3], 4, 3, None)
    assert both == (
        "step 3: the largest error seen in calibration, not a calibrated 80% interval (3 "
        "residuals or fewer a step: at most a 75% interval; 80% needs 4); step 4: step 3's "
        "width, kept past the calibrated steps"
    )


def test_a_band_of_a_model_saved_before_counts_says_it_is_unknown() -> None:
    steps, note, tested = band_mark(95, None, 5, 200, 95.9)
    assert steps is None
    assert note is not None
    assert note.startswith("steps 1-5: unknown whether a calibrated 95% interval")
    assert tested == 95.9


# --- rollout origins ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("begin", "end", "most"), [(100, 200, 256), (100, 200, 5), (0, 10_000, 256), (3, 9, 2)]
)
def test_origins_stay_inside_and_span_the_range(begin: int, end: int, most: int) -> None:
    found = origins(begin, end, most)
    assert found.dtype == np.int64
    assert len(found) == min(most, end - begin)
    assert (np.diff(found) > 0).all()
    assert (found[0], found[-1]) == (begin, end - 1)


def test_origins_take_every_row_when_there_are_few() -> None:
    np.testing.assert_array_equal(origins(100, 200), np.arange(100, 200))
    assert len(origins(0, 100_000)) == MAX_CALIBRATION_ORIGINS


def test_origins_are_evenly_spaced_when_capped() -> None:
    np.testing.assert_array_equal(origins(0, 1001, most=11), np.arange(0, 1001, 100))


def test_one_origin_is_the_first_row_and_an_empty_range_has_none() -> None:
    np.testing.assert_array_equal(origins(40, 50, most=1), [40])
    assert origins(5, 5).shape == (0,)
    assert origins(5, 3).dtype == np.int64


# --- the calibration plan ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "wanted", "steps", "rollouts"),
    [
        (60, 1000, 60, 60),  # one series: the whole part, from every row of it
        (150, 200, 150, 150),
        (300, 200, 200, 256),  # past 256 rows: 256 origins, spread evenly
        (1000, 200, 200, 256),  # as many steps as asked
        (1, 200, 1, 1),  # too short to calibrate: one rollout
    ],
)
def test_one_series_calibrates_its_whole_part_from_up_to_256_points(
    rows: int, wanted: int, steps: int, rollouts: int
) -> None:
    (segment,) = segments_of([rows * 10], lambda n: Split.sized(n, rows, rows))
    plan = plan_rollouts([segment], "val", wanted)
    assert (plan.steps, len(plan.starts)) == (steps, rollouts)
    begin, end = segment.bounds("val")
    assert (plan.starts.min(), plan.starts.max()) == (begin, end - 1)
    assert (plan.stops == end).all()  # each rollout's residuals end with the part
    assert (plan.ends == segment.end).all()


def test_many_series_calibrate_their_whole_parts_from_one_point_each() -> None:
    segments = segments_of([40 + n for n in range(300)], lambda n: Split.sized(n, 18, 18))
    plan = plan_rollouts(segments, "val", 18)
    assert (plan.steps, len(plan.starts)) == (18, 300)
    assert list(plan.starts) == [segment.bounds("val")[0] for segment in segments]
    assert list(plan.stops) == [segment.bounds("val")[1] for segment in segments]
    assert list(plan.ends) == [segment.end for segment in segments]


def test_a_few_series_each_roll_out_from_every_row_of_their_parts() -> None:
    segments = segments_of([100, 120], lambda n: Split.sized(n, 20, 20))
    plan = plan_rollouts(segments, "val", 18)
    assert plan.steps == 18  # as asked: the parts have 20 rows
    assert len(plan.starts) == 2 * 20
    for segment in segments:
        begin, end = segment.bounds("val")
        mine = plan.starts[(plan.starts >= begin) & (plan.starts < end)]
        np.testing.assert_array_equal(mine, np.arange(begin, end))


def test_a_horizon_longer_than_the_parts_is_cut_to_the_longest_part() -> None:
    segments = segments_of([100, 200], lambda n: Split.of(n, 0.1, 0.1))  # parts of 10 and 20
    plan = plan_rollouts(segments, "val", 48)
    assert plan.steps == 20
    reach = plan.stops - plan.starts  # the steps of each rollout inside its part
    assert reach.max() == 20
    assert sorted(set(reach[:10].tolist())) == list(range(1, 11))
