"""Built-in series generators: the catalog behind GET /v1/functions.

Each generator takes validated parameters and returns a float64 array of shape [points, columns].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

MAX_POINTS = 1_000_000


class FunctionParamError(ValueError):
    """A parameter of a built-in function is unknown or out of range."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(param, message)
        self.param = param
        self.message = message


@dataclass(frozen=True)
class Param:
    """One numeric parameter of a generator, with its bounds."""

    name: str
    kind: type[int] | type[float]
    default: float
    description: str
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class FunctionSpec:
    """A built-in generator: its columns, parameters and the function that draws it."""

    name: str
    description: str
    columns: tuple[str, ...]
    params: tuple[Param, ...]
    draw: Callable[[np.ndarray, Mapping[str, float]], np.ndarray]  # (x [N], params) -> [N, C]


def _common(stop: float, points: int, noise: float = 0.0) -> tuple[Param, ...]:
    return (
        Param("start", float, 0.0, "first x value", -1e6, 1e6),
        Param("stop", float, stop, "last x value (must be greater than start)", -1e6, 1e6),
        Param("points", int, points, "number of evenly spaced samples", 2, MAX_POINTS),
        Param("noise", float, noise, "standard deviation of added Gaussian noise", 0.0, 1e6),
        Param("seed", int, 0, "seed of the noise generator", 0, 2**32 - 1),
    )


def _vibration(t: np.ndarray, p: Mapping[str, float]) -> np.ndarray:
    """Acceleration of a rotating shaft: 1x/2x/3x harmonics, amplitude modulation, a gear mesh."""
    shaft = 2 * math.pi * p["shaft_hz"] * t
    harmonics = np.sin(shaft) + 0.5 * np.sin(2 * shaft + 0.6) + 0.25 * np.sin(3 * shaft + 1.9)
    envelope = 1.0 + p["modulation_depth"] * np.sin(2 * math.pi * p["modulation_hz"] * t)
    mesh = 0.15 * np.sin(17 * shaft + 0.3)  # a 17-tooth gear meshing with the shaft
    return (envelope * harmonics + mesh)[:, None]


CATALOG: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec(
            "sin", "sin(x)", ("sin",), _common(100.0, 10_000), lambda x, p: np.sin(x)[:, None]
        ),
        FunctionSpec(
            "cos", "cos(x)", ("cos",), _common(100.0, 10_000), lambda x, p: np.cos(x)[:, None]
        ),
        FunctionSpec(
            "sin_cos",
            "sin(x) and cos(x) as two columns",
            ("sin", "cos"),
            _common(100.0, 10_000),
            lambda x, p: np.stack([np.sin(x), np.cos(x)], axis=1),  # [N] x2 -> [N, 2]
        ),
        FunctionSpec(
            "x_sin",
            "x * sin(x): an oscillation whose amplitude grows with x",
            ("x_sin",),
            _common(100.0, 10_000),
            lambda x, p: (x * np.sin(x))[:, None],
        ),
        FunctionSpec(
            "vibration",
            "synthetic rotating-machinery acceleration (x is time in seconds): shaft harmonics, "
            "amplitude modulation, gear mesh and sensor noise",
            ("acceleration",),
            _common(41.0, 41_000, noise=0.05)
            + (
                Param("shaft_hz", float, 12.5, "shaft rotation frequency in Hz", 0.0, 1e5),
                Param("modulation_hz", float, 0.5, "amplitude-modulation frequency in Hz", 0, 1e5),
                Param("modulation_depth", float, 0.3, "amplitude-modulation depth", 0.0, 1.0),
            ),
            _vibration,
        ),
    )
}


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def resolve_params(name: str, params: Mapping[str, float]) -> dict[str, float]:
    """Fill defaults and check every parameter of function `name`; raise FunctionParamError."""
    spec = CATALOG[name]
    known = {param.name: param for param in spec.params}
    for key in params:
        if key not in known:
            raise FunctionParamError(key, f"unknown parameter; {name} takes {', '.join(known)}")
    resolved: dict[str, float] = {}
    for param in spec.params:
        value = params.get(param.name, param.default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
            raise FunctionParamError(param.name, "must be a finite number")
        if param.kind is int and value != int(value):
            raise FunctionParamError(param.name, "must be an integer")
        if param.minimum is not None and value < param.minimum:
            raise FunctionParamError(param.name, f"must be >= {param.minimum:g}")
        if param.maximum is not None and value > param.maximum:
            raise FunctionParamError(param.name, f"must be <= {param.maximum:g}")
        resolved[param.name] = param.kind(value)
    if resolved["stop"] <= resolved["start"]:
        raise FunctionParamError("stop", "must be greater than start")
    return resolved


def x_values(params: Mapping[str, float]) -> np.ndarray:
    """The sample positions of a generated series: [points] float64."""
    return np.linspace(params["start"], params["stop"], int(params["points"]))


def generate(name: str, params: Mapping[str, float]) -> np.ndarray:
    """Draw function `name` with resolved `params`: [points, columns] float64."""
    spec = CATALOG[name]
    values = spec.draw(x_values(params), params)
    if params["noise"] > 0:
        rng = np.random.default_rng(int(params["seed"]))
        values = values + rng.normal(0.0, params["noise"], size=values.shape)
    return np.ascontiguousarray(values, dtype=np.float64)
