"""A sweep's settings and its search space, validated before any trial runs. Torch-free and Optuna-free.

A recipe may hold a ``sweep:`` block, and ``gradclinic sweep`` takes the same
settings as flags; both end here. A search dimension is a recipe key and a
SPEC, one of::

    loguniform(1e-4, 1)    a float drawn on a log scale
    float(0, 0.5)          a float drawn uniformly
    int(16, 256)           a whole number (log-scaled with intlog(16, 256))
    choice(relu, tanh)     one of the listed values (read as YAML: numbers stay numbers)

Every bound and every choice is tried against the recipe when the sweep is
checked, so a bad key or an out-of-range value fails with the key named
before the first trial (exit 2), never as trial 17's crash.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.config.errors import RecipeError, excerpt

SAMPLERS = ("grid", "random", "tpe", "gp", "cmaes")
PRUNERS = ("median", "hyperband", "none")
EXECUTORS = ("local", "inline", "ray")
MAX_TRIALS = 1000
MAX_DIMENSIONS = 12
MAX_CHOICES = 64
MAX_PARALLEL = 64

_SPEC = re.compile(r"^\s*(loguniform|float|int|intlog|choice)\s*\((.*)\)\s*$", re.S)


class Dimension(BaseModel):
    """One searched key: its kind and bounds (``low``/``high``) or its ``choices``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    kind: Literal["loguniform", "float", "int", "intlog", "choice"]
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()

    @property
    def spec(self) -> str:
        """The SPEC text this dimension was read from (normalised), for tables and the study's attributes."""
        if self.kind == "choice":
            return f"choice({', '.join(str(c) for c in self.choices)})"
        return f"{self.kind}({self._round(self.low or 0.0)}, {self._round(self.high or 0.0)})"

    def grid(self, points: int) -> list[Any]:
        """``points`` values spread over the range (log-spaced where the draw is), or every choice."""
        if self.kind == "choice":
            return list(self.choices)
        assert self.low is not None and self.high is not None
        if points <= 1:
            return [self._round(math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2)]
        if self.log:
            a, b = math.log(self.low), math.log(self.high)
            values = [math.exp(a + (b - a) * i / (points - 1)) for i in range(points)]
        else:
            values = [self.low + (self.high - self.low) * i / (points - 1) for i in range(points)]
        return list(dict.fromkeys(self._round(v) for v in values))  # an int range narrower than points has fewer

    @property
    def log(self) -> bool:
        return self.kind in ("loguniform", "intlog")

    def _round(self, value: float) -> Any:
        return int(round(value)) if self.kind in ("int", "intlog") else float(f"{value:.6g}")

    def probe_values(self) -> list[Any]:
        """The values checked against the recipe up front: both bounds, or every choice."""
        return list(self.choices) if self.kind == "choice" else [self._round(self.low), self._round(self.high)]  # type: ignore[arg-type]


def parse_dimension(key: str, spec: str) -> Dimension:
    """``("train.lr", "loguniform(1e-4, 1)")`` -> a :class:`Dimension`; a bad SPEC is one RecipeError naming ``key``."""
    where = f"sweep space {key}"
    if not isinstance(spec, str) or len(spec) > 2000:
        raise RecipeError(f"{where}: expected a SPEC such as loguniform(1e-4,1), got {excerpt(spec)}")
    m = _SPEC.match(spec)
    if not m:
        raise RecipeError(
            f"{where}: {excerpt(spec)} is not a SPEC; use loguniform(LOW,HIGH), float(LOW,HIGH), int(LOW,HIGH), "
            "intlog(LOW,HIGH) or choice(A,B,...)"
        )
    kind, inner = m.group(1), m.group(2)
    parts = [p.strip() for p in inner.split(",")]
    if any(not p for p in parts):
        raise RecipeError(f"{where}: {excerpt(spec)} has an empty argument")
    if kind == "choice":
        if len(parts) < 2 or len(parts) > MAX_CHOICES:
            raise RecipeError(f"{where}: choice() needs 2 to {MAX_CHOICES} values, got {len(parts)}")
        values = tuple(_value(p) for p in parts)
        if len({repr(v) for v in values}) != len(values):
            raise RecipeError(f"{where}: choice() lists a value twice")
        return Dimension(key=key, kind="choice", choices=values)
    if len(parts) != 2:
        raise RecipeError(f"{where}: {kind}() takes two bounds, LOW and HIGH (got {len(parts)} arguments)")
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        raise RecipeError(f"{where}: {kind}() bounds must be numbers (got {excerpt(inner)})") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise RecipeError(f"{where}: {kind}() needs finite bounds with LOW < HIGH (got {low:g}, {high:g})")
    if kind in ("loguniform", "intlog") and low <= 0:
        raise RecipeError(f"{where}: {kind}() draws on a log scale, so LOW must be above 0 (got {low:g})")
    if kind in ("int", "intlog") and (low != int(low) or high != int(high)):
        raise RecipeError(f"{where}: {kind}() bounds must be whole numbers (got {low:g}, {high:g})")
    return Dimension(key=key, kind=kind, low=low, high=high)


def _value(text: str) -> Any:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (str, int, float, bool)) or value is None else text


def parse_space(items: dict[str, str] | list[str]) -> tuple[Dimension, ...]:
    """``["train.lr=loguniform(1e-4,1)", ...]`` or ``{"train.lr": "loguniform(1e-4,1)"}`` -> dimensions."""
    pairs: list[tuple[str, str]] = []
    if isinstance(items, dict):
        pairs = [(str(k), v) for k, v in items.items()]
    else:
        for item in items:
            key, sep, spec = str(item).partition("=")
            if not sep or not key.strip():
                raise RecipeError(f"--space {excerpt(item)}: expected KEY=SPEC, e.g. train.lr=loguniform(1e-4,1)")
            pairs.append((key.strip(), spec))
    if not pairs:
        raise RecipeError("sweep space: name at least one KEY=SPEC to search, e.g. train.lr=loguniform(1e-4,1)")
    if len(pairs) > MAX_DIMENSIONS:
        raise RecipeError(f"sweep space: {len(pairs)} keys; a sweep searches at most {MAX_DIMENSIONS}")
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise RecipeError(f"sweep space: {next(k for k in keys if keys.count(k) > 1)} is named twice")
    return tuple(parse_dimension(k, s) for k, s in pairs)


class SweepSpec(BaseModel):
    """What to search and how: a recipe's ``sweep:`` block, or ``gradclinic sweep``'s flags."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    space: dict[str, str] = Field(default_factory=dict)
    sampler: Literal["grid", "random", "tpe", "gp", "cmaes"] = "tpe"
    trials: int = Field(20, ge=1, le=MAX_TRIALS)
    pruner: Literal["median", "hyperband", "none"] = "median"
    parallel: int = Field(1, ge=1, le=MAX_PARALLEL)
    metric: str | None = None  # None: the recipe's headline (val_accuracy, or val_loss)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)  # the sampler's seed; None: the recipe's

    @field_validator("space")
    @classmethod
    def _space(cls, v: dict[str, str]) -> dict[str, str]:
        parse_space(v) if v else None  # each SPEC's grammar; the keys are checked against the recipe later
        return v

    def dimensions(self) -> tuple[Dimension, ...]:
        return parse_space(self.space)
