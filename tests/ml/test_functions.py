"""The built-in function catalog: parameters, defaults, shapes and noise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.ml.functions import (
    CATALOG,
    MAX_POINTS,
    FunctionParamError,
    generate,
    resolve_params,
    x_values,
)

SMALL = {"stop": 10.0, "points": 101}


def test_catalog_holds_the_five_builtin_functions_with_their_columns() -> None:
    assert {name: spec.columns for name, spec in CATALOG.items()} == {
        "sin": ("sin",),
        "cos": ("cos",),
        "sin_cos": ("sin", "cos"),
        "x_sin": ("x_sin",),
        "vibration": ("acceleration",),
    }


def test_resolve_params_fills_the_defaults_of_sin() -> None:
    resolved = resolve_params("sin", {})
    assert resolved == {"start": 0.0, "stop": 100.0, "points": 10_000, "noise": 0.0, "seed": 0}
    assert type(resolved["points"]) is int
    assert type(resolved["seed"]) is int
    assert type(resolved["stop"]) is float


def test_resolve_params_fills_the_defaults_of_vibration() -> None:
    assert resolve_params("vibration", {}) == {
        "start": 0.0,
        "stop": 41.0,
        "points": 41_000,
        "noise": 0.05,
        "seed": 0,
        "shaft_hz": 12.5,
        "modulation_hz": 0.5,
        "modulation_depth": 0.3,
    }


def test_resolve_params_keeps_given_values_and_casts_them_to_the_parameter_kind() -> None:
    resolved = resolve_params("cos", {"start": -5, "stop": 5, "points": 20.0, "seed": 7.0})
    assert resolved == {"start": -5.0, "stop": 5.0, "points": 20, "noise": 0.0, "seed": 7}
    assert type(resolved["start"]) is float
    assert type(resolved["points"]) is int


def test_vibration_default_draws_41000_points_of_one_column() -> None:
    values = generate("vibration", resolve_params("vibration", {}))
    assert values.shape == (41_000, 1)
    assert values.dtype == np.float64


def test_unknown_parameter_is_rejected_with_its_name() -> None:
    with pytest.raises(FunctionParamError) as info:
        resolve_params("sin", {"amplitude": 2.0})
    assert info.value.param == "amplitude"
    assert info.value.message == "unknown parameter; sin takes start, stop, points, noise, seed"
    assert isinstance(info.value, ValueError)


def test_vibration_only_parameter_is_unknown_to_sin() -> None:
    with pytest.raises(FunctionParamError) as info:
        resolve_params("sin", {"shaft_hz": 10.0})
    assert info.value.param == "shaft_hz"


@pytest.mark.parametrize(
    ("name", "params", "param", "message"),
    [
        ("sin", {"points": 1}, "points", "must be >= 2"),
        ("sin", {"points": MAX_POINTS + 1}, "points", "must be <= 1e+06"),
        ("sin", {"noise": -0.1}, "noise", "must be >= 0"),
        ("sin", {"seed": -1}, "seed", "must be >= 0"),
        ("sin", {"seed": 2**32}, "seed", "must be <= 4.29497e+09"),
        ("sin", {"start": -2e6}, "start", "must be >= -1e+06"),
        ("vibration", {"modulation_depth": 1.5}, "modulation_depth", "must be <= 1"),
    ],
)
def test_out_of_range_parameter_is_rejected(
    name: str, params: dict[str, float], param: str, message: str
) -> None:
    with pytest.raises(FunctionParamError) as info:
        resolve_params(name, params)
    assert (info.value.param, info.value.message) == (param, message)


@pytest.mark.parametrize(("param", "value"), [("points", 10.5), ("seed", 1.25)])
def test_non_integer_value_of_an_integer_parameter_is_rejected(param: str, value: float) -> None:
    with pytest.raises(FunctionParamError) as info:
        resolve_params("sin", {param: value})
    assert (info.value.param, info.value.message) == (param, "must be an integer")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "3", None, True])
def test_non_finite_or_non_numeric_value_is_rejected(value: object) -> None:
    with pytest.raises(FunctionParamError) as info:
        resolve_params("sin", {"stop": value})  # type: ignore[dict-item]
    assert (info.value.param, info.value.message) == ("stop", "must be a finite number")


def test_integer_too_large_for_a_float_is_rejected_as_a_parameter_error() -> None:
    # A JSON body may carry an arbitrarily long integer; it must be a 4xx-style parameter error,
    # not an OverflowError escaping from math.isfinite.
    with pytest.raises(FunctionParamError) as info:
        resolve_params("sin", {"points": 10**400})
    assert info.value.param == "points"


@pytest.mark.parametrize(("start", "stop"), [(5.0, 5.0), (5.0, 1.0)])
def test_stop_not_greater_than_start_is_rejected(start: float, stop: float) -> None:
    with pytest.raises(FunctionParamError) as info:
        resolve_params("sin", {"start": start, "stop": stop})
    assert (info.value.param, info.value.message) == ("stop", "must be greater than start")


def test_x_values_are_evenly_spaced_from_start_to_stop() -> None:
    x = x_values(resolve_params("sin", {"start": -1.0, "stop": 1.0, "points": 5}))
    np.testing.assert_array_equal(x, [-1.0, -0.5, 0.0, 0.5, 1.0])


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_generate_returns_points_by_columns_float64(name: str) -> None:
    values = generate(name, resolve_params(name, SMALL))
    assert values.shape == (101, len(CATALOG[name].columns))
    assert values.dtype == np.float64
    assert values.flags.c_contiguous
    assert np.isfinite(values).all()


def test_sin_cos_and_x_sin_match_numpy() -> None:
    params = resolve_params("sin", SMALL)
    x = np.linspace(0.0, 10.0, 101)
    np.testing.assert_array_equal(generate("sin", params)[:, 0], np.sin(x))
    np.testing.assert_array_equal(generate("cos", params)[:, 0], np.cos(x))
    np.testing.assert_array_equal(generate("x_sin", params)[:, 0], x * np.sin(x))


def test_sin_cos_has_sin_in_the_first_column_and_cos_in_the_second() -> None:
    values = generate("sin_cos", resolve_params("sin_cos", SMALL))
    x = np.linspace(0.0, 10.0, 101)
    assert values.shape == (101, 2)
    np.testing.assert_array_equal(values[:, 0], np.sin(x))
    np.testing.assert_array_equal(values[:, 1], np.cos(x))


def test_vibration_without_noise_starts_at_its_harmonics_sum() -> None:
    values = generate("vibration", resolve_params("vibration", {"noise": 0.0, "points": 100}))
    expected = math.sin(0) + 0.5 * math.sin(0.6) + 0.25 * math.sin(1.9) + 0.15 * math.sin(0.3)
    assert values[0, 0] == pytest.approx(expected, abs=1e-15)


def test_noise_is_gaussian_drawn_from_the_seeded_generator() -> None:
    clean = generate("sin", resolve_params("sin", SMALL))
    noisy = generate("sin", resolve_params("sin", {**SMALL, "noise": 0.1, "seed": 3}))
    expected = np.random.default_rng(3).normal(0.0, 0.1, size=(101, 1))
    np.testing.assert_allclose(noisy - clean, expected, rtol=0, atol=1e-15)


def test_noise_is_reproducible_for_the_same_seed() -> None:
    params = resolve_params("sin_cos", {**SMALL, "noise": 0.5, "seed": 42})
    np.testing.assert_array_equal(generate("sin_cos", params), generate("sin_cos", params))


def test_noise_differs_between_seeds() -> None:
    first = generate("sin", resolve_params("sin", {**SMALL, "noise": 0.5, "seed": 1}))
    second = generate("sin", resolve_params("sin", {**SMALL, "noise": 0.5, "seed": 2}))
    assert not np.any(first == second)


def test_zero_noise_gives_the_same_series_for_every_seed() -> None:
    first = generate("cos", resolve_params("cos", {**SMALL, "seed": 1}))
    second = generate("cos", resolve_params("cos", {**SMALL, "seed": 2}))
    np.testing.assert_array_equal(first, second)
