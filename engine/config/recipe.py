"""Recipes: one validated, frozen description of a training run.

The schema's defaults are the single set of defaults (nanoGPT style); a
recipe file only overrides them. Overrides use dotted keys
(``train.lr=0.01``), the same keys the UI toggles and the remedies speak.
Validation is strict, and every refusal names the dotted path and what is
allowed. Torch-free: the app imports this.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from engine.config import bounded_yaml, limits, names
from engine.config.distill import DistillSpec
from engine.config.ensemble import EnsembleSpec
from engine.config.errors import RecipeError, excerpt, format_errors
from engine.config.folds import FoldSpec
from engine.config.loader import LoaderSpec
from engine.config.sweep import SweepSpec

RECIPES_DIR = Path(__file__).resolve().parents[2] / "recipes"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _yaml(text: str, what: str, max_chars: int = limits.MAX_RECIPE_BYTES) -> Any:
    return bounded_yaml.load(text, what, max_chars)  # a SafeLoader with caps: data only, never code


class _Strict(BaseModel):
    # allow_inf_nan=False: no recipe key means anything at infinity (train.weight_decay=.inf was accepted).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _allowed(kind: str, value: Any, allowed: list[str]) -> str:
    return f"unknown {kind} {excerpt(value)}; allowed: {', '.join(allowed)}"


class DataSpec(_Strict):
    name: str = "digits"
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    train_limit: int | None = Field(None, ge=1, le=10_000_000)
    augment: tuple[str, ...] = ()
    params: dict[str, Any] = Field(default_factory=dict)
    fold: FoldSpec | None = None  # a cross-validation fold instead of the val_fraction split
    # The data's own seed (generation, split, train_limit, folds); None: the recipe's seed. An
    # ensemble's members differ in seed but share one split through it.
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    # Train on a bootstrap sample of the training rows (drawn with replacement, as many as there
    # are) from this seed: a bagging member. None: the training rows as they are.
    bootstrap: int | None = Field(None, ge=0, le=2**31 - 1)
    loader: LoaderSpec = Field(default_factory=LoaderSpec)  # how batches reach the model (in memory by default)

    @field_validator("name")
    @classmethod
    def _known_dataset(cls, v: str) -> str:
        if v not in names.DATASETS:
            raise ValueError(_allowed("dataset", v, names.DATASETS.names()))
        return v

    @field_validator("augment", mode="before")
    @classmethod
    def _list_to_tuple(cls, v: Any) -> Any:
        return tuple(v) if isinstance(v, list) else v

    @field_validator("augment")
    @classmethod
    def _known_augment(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        allowed = names.augmentations()
        for a in v:
            if a not in allowed:
                raise ValueError(_allowed("augmentation", a, allowed))
        return v

    @model_validator(mode="after")
    def _check_params(self) -> DataSpec:
        from engine import datasets

        kind = datasets.kind(self.name)
        # A video's frames would each be warped by a draw of their own, which no clip ever shows.
        if self.augment and kind != "image":
            raise ValueError(f"data.augment: augmentations work on image data; dataset {self.name!r} is {kind}")
        if self.loader.cpu_augment and kind != "image":
            raise ValueError(
                f"data.loader.cpu_augment: loader.cpu_augment works on image data; dataset {self.name!r} is {kind}"
            )
        try:
            checked = datasets.check_params(self.name, dict(self.params))
        except RecipeError as exc:
            raise ValueError(str(exc)) from None
        object.__setattr__(self, "params", checked)
        return self


class ModelSpec(_Strict):
    arch: str = "mlp"
    depth: int = Field(3, ge=1, le=200)
    width: int = Field(64, ge=1, le=4096)
    activation: str = "relu"
    init: str = "default"
    init_std: float | None = Field(None, gt=0.0, le=100.0)
    # Every bias starts at this value (default: 0, or PyTorch's own for init "default"). A large
    # negative one switches ReLU units off from the first step: the textbook way to get dead units.
    init_bias: float | None = Field(None, ge=-100.0, le=100.0)
    residual: bool = False
    norm: Literal["none", "batch", "layer"] = "none"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    # Transfer learning: start from an earlier run's weights (its id or its name) or a .safetensors
    # file. Layers load by name and shape; the head starts afresh when the output size differs.
    init_from: str | None = Field(None, min_length=1, max_length=1000)
    # Layers (names or prefixes, e.g. "layers.0" or "layers") that keep their loaded weights.
    freeze: tuple[str, ...] = Field((), max_length=200)
    # The loaded layers learn at train.lr x this; a fresh head at train.lr itself.
    init_lr_scale: float = Field(1.0, gt=0.0, le=100.0)
    # Start the head afresh even where its shape fits: a new task with as many outputs as the old.
    fresh_head: bool = False

    @field_validator("freeze", mode="before")
    @classmethod
    def _freeze_list(cls, v: Any) -> Any:
        return tuple(v) if isinstance(v, list) else v

    @field_validator("init_from", mode="before")
    @classmethod
    def _digits_are_an_id(cls, v: Any) -> Any:
        # --set reads its value as YAML: a run id of eight digits arrives as a number.
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("init_from")
    @classmethod
    def _run_or_file(cls, v: str | None) -> str | None:
        if v is not None and not (re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}", v) or v.endswith(".safetensors")):
            raise ValueError(f"give a run's id or name, or a path ending in .safetensors, not {excerpt(v)}")
        return v

    @field_validator("freeze", "init_lr_scale", "fresh_head")
    @classmethod
    def _needs_init_from(cls, v: Any, info: ValidationInfo) -> Any:
        default = cls.model_fields[str(info.field_name)].default
        if v != default and info.data.get("init_from") is None:
            raise ValueError(f"applies to weights loaded by model.init_from, and none is set (got {v!r})")
        return v

    @field_validator("arch")
    @classmethod
    def _known_arch(cls, v: str) -> str:
        if v not in names.ARCHITECTURES:
            raise ValueError(_allowed("architecture", v, names.ARCHITECTURES.names()))
        return v

    @field_validator("activation")
    @classmethod
    def _known_activation(cls, v: str) -> str:
        if v not in names.activations():
            raise ValueError(_allowed("activation", v, names.activations()))
        return v

    @field_validator("init")
    @classmethod
    def _known_init(cls, v: str) -> str:
        if v not in names.inits():
            raise ValueError(_allowed("init", v, names.inits()))
        return v


class EarlyStopping(_Strict):
    patience: int = Field(5, ge=1, le=100_000)
    min_delta: float = Field(0.0, ge=0.0, le=1e6)


class TrainSpec(_Strict):
    optimizer: str = "adam"
    lr: float = Field(0.001, gt=0.0, le=100.0)
    weight_decay: float = Field(0.0, ge=0.0, le=10.0)
    l1: float = Field(0.0, ge=0.0, le=10.0)
    batch_size: int = Field(64, ge=1, le=65_536)
    steps: int = Field(1000, ge=1, le=10_000_000)
    clip_norm: float | None = Field(None, gt=0.0, le=1e6)
    clip_value: float | None = Field(None, gt=0.0, le=1e6)
    schedule: str = "constant"
    early_stopping: EarlyStopping | None = None
    eval_every: int = Field(50, ge=1, le=10_000_000)
    # Mixed precision: the forward pass in a 16-bit float. "auto" is bf16 on a CPU and fp16 with
    # loss scaling on CUDA; "bf16" on CUDA needs no scaling (see engine/training/precision.py).
    amp: bool = False
    amp_dtype: Literal["auto", "bf16", "fp16"] = "auto"
    compile: bool = False  # torch.compile the model's training forward (the first step compiles it)
    channels_last: bool = False  # NHWC weights and images, for the architectures that declare it
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"

    @field_validator("amp_dtype")
    @classmethod
    def _needs_amp(cls, v: str, info: ValidationInfo) -> str:
        if v != "auto" and not info.data.get("amp"):
            raise ValueError(f"applies when train.amp is true, and it is false (got {v!r})")
        return v

    @field_validator("optimizer")
    @classmethod
    def _known_optimizer(cls, v: str) -> str:
        if v not in names.optimizers():
            raise ValueError(_allowed("optimizer", v, names.optimizers()))
        return v

    @field_validator("schedule")
    @classmethod
    def _known_schedule(cls, v: str) -> str:
        if v not in names.schedules():
            raise ValueError(_allowed("schedule", v, names.schedules()))
        return v


class ProbeSpec(_Strict):
    budget: float = Field(0.05, gt=0.0, le=1.0)
    # Fixed intervals (steps) for named probes, overriding the budget: {grad_norm: 1}.
    intervals: dict[str, int] = Field(default_factory=dict)

    @field_validator("intervals")
    @classmethod
    def _known_probes(cls, v: dict[str, int]) -> dict[str, int]:
        allowed = names.PROBES.names()
        for key, every in v.items():
            if key not in allowed:
                raise ValueError(_allowed("probe", key, allowed))
            if not isinstance(every, int) or isinstance(every, bool) or every < 1:
                raise ValueError(f"interval for {key!r} must be a whole number of steps ≥ 1 (got {every!r})")
        return v


class Variant(_Strict):
    label: str = Field(min_length=1, max_length=80)
    set: dict[str, Any] = Field(default_factory=dict)


class Question(_Strict):
    """A question for students; ``answer`` is revealed once the lesson's runs have numbers."""

    ask: str = Field(min_length=1, max_length=300)
    answer: str = Field(min_length=1, max_length=600)


class Recipe(_Strict):
    """A complete, validated run description. Build one with :func:`load_recipe`."""

    name: str = "custom"
    title: str = Field("", max_length=limits.MAX_TITLE_CHARS)
    lesson: str = Field("", max_length=limits.MAX_LESSON_CHARS)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    data: DataSpec = Field(default_factory=DataSpec)
    model: ModelSpec = Field(default_factory=ModelSpec)
    train: TrainSpec = Field(default_factory=TrainSpec)
    probes: ProbeSpec = Field(default_factory=ProbeSpec)
    compare: tuple[Variant, ...] = Field((), max_length=limits.MAX_VARIANTS)
    questions: tuple[Question, ...] = Field((), max_length=limits.MAX_QUESTIONS)
    ensemble: EnsembleSpec | None = None  # what `gradclinic ensemble` trains by default; a member's recipe has none
    sweep: SweepSpec | None = None  # what `gradclinic sweep` searches by default; a trial's own recipe has none
    distill: DistillSpec | None = None  # learn from a teacher run's softened outputs as well as the labels

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError("use letters, digits, '-', '_' or '.', at most 64 characters")
        return v

    @field_validator("compare", "questions", mode="before")
    @classmethod
    def _compare_list(cls, v: Any) -> Any:
        return tuple(v) if isinstance(v, list) else v

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data; ``Recipe.from_dict(r.to_dict()) == r``."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        return _validate(data)

    def with_overrides(self, overrides: dict[str, Any] | list[str] | None) -> Recipe:
        """A new recipe with dotted overrides applied and validated again."""
        data = self.to_dict()
        for key, value in _as_pairs(overrides):
            _set_dotted(data, key, value)
        return _validate(data)

    def get(self, dotted: str) -> Any:
        """The value at a dotted key, e.g. ``recipe.get("train.lr")``."""
        node: Any = self.to_dict()
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                raise RecipeError(f"{excerpt(dotted)[1:-1]}: unknown key")
            node = node[part]
        return node

    @property
    def is_lesson(self) -> bool:
        """A lesson teaches by comparison: it has lesson text and a ``compare:`` block."""
        return bool(self.lesson.strip() and self.compare)

    @property
    def summary(self) -> str:
        """The lesson's first paragraph, for gallery cards and listings."""
        return self.lesson.strip().split("\n\n")[0].replace("\n", " ") if self.lesson else ""


# --- loading -----------------------------------------------------------------


def find_recipe(source: str | Path) -> Path:
    """A recipe file from a path, or from the name of a file in ``recipes/``."""
    path = Path(source)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise RecipeError(f"recipe file not found: {path}")
        return path
    if not _NAME_RE.match(str(source)):
        raise RecipeError(f"not a recipe name or file: {excerpt(str(source))}")
    for suffix in (".yaml", ".yml"):
        candidate = RECIPES_DIR / f"{source}{suffix}"
        if candidate.is_file():
            return candidate
    known = ", ".join(list_recipe_names()) or "(none)"
    raise RecipeError(f"no recipe named {excerpt(str(source))}; built-in recipes: {known}")


def list_recipe_names() -> list[str]:
    """Names of the built-in recipes, sorted."""
    if not RECIPES_DIR.is_dir():
        return []
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def read_yaml(path: Path) -> dict[str, Any]:
    """Safe-load a YAML mapping within the caps, with a clear message for anything else."""
    try:
        with path.open("rb") as fh:  # read at most one byte past the cap: a 5 GB file costs nothing
            raw = fh.read(limits.MAX_RECIPE_BYTES + 1)
        if len(raw) > limits.MAX_RECIPE_BYTES:
            raise RecipeError(f"{path.name}: a recipe file may be at most {limits.MAX_RECIPE_BYTES // 1024} KB")
        data = _yaml(raw.decode("utf-8"), path.name)
    except bounded_yaml.YamlLimitError:
        raise
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path.name}: not valid YAML ({excerpt_yaml_error(exc)})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"{path}: cannot read ({exc})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RecipeError(f"{path.name}: a recipe must be a mapping of keys, got {type(data).__name__}")
    return data


def excerpt_yaml_error(exc: yaml.YAMLError) -> str:
    """PyYAML's complaint without its quoted source line (which can be megabytes): what and where."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{excerpt(problem)[1:-1]}{where}"


def load_recipe(
    source: str | Path | dict[str, Any] | None = None,
    overrides: dict[str, Any] | list[str] | None = None,
) -> Recipe:
    """Load a recipe (path, built-in name, dict, or None for the defaults) and apply overrides."""
    if source is None:
        data: dict[str, Any] = {}
    elif isinstance(source, dict):
        data = copy.deepcopy(source)
    else:
        path = find_recipe(source)
        data = read_yaml(path)
        data.setdefault("name", path.stem)
        if data["name"] != path.stem:
            raise RecipeError(f"name: must equal the file name {path.stem!r} (got {excerpt(data['name'])})")
    for key, value in _as_pairs(overrides):
        _set_dotted(data, key, value)
    return _validate(data)


def parse_override(text: str) -> tuple[str, Any]:
    """``"train.lr=0.01"`` -> ``("train.lr", 0.01)``; the value is read as YAML, within the caps."""
    if len(text) > limits.MAX_OVERRIDE_CHARS:
        raise RecipeError(
            f"override {excerpt(text[: limits.EXCERPT_CHARS])}: {len(text):,} characters; "
            f"an override may be at most {limits.MAX_OVERRIDE_CHARS:,}"
        )
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise RecipeError(f"override {excerpt(text)}: expected KEY=VALUE, e.g. train.lr=0.01")
    try:
        value = _yaml(raw, key, limits.MAX_OVERRIDE_CHARS) if raw.strip() else None
    except bounded_yaml.YamlLimitError:
        raise
    except yaml.YAMLError:
        value = raw  # not YAML: the text itself (a title with a colon, say)
    return key, value


def _as_pairs(overrides: dict[str, Any] | list[str] | None) -> list[tuple[str, Any]]:
    if not overrides:
        return []
    if len(overrides) > limits.MAX_OVERRIDES:
        raise RecipeError(f"{len(overrides):,} overrides; at most {limits.MAX_OVERRIDES} may be given at once")
    if isinstance(overrides, dict):
        return list(overrides.items())
    return [parse_override(o) for o in overrides]


_SECTIONS: dict[str, type[BaseModel]] = {
    "data": DataSpec,
    "model": ModelSpec,
    "train": TrainSpec,
    "probes": ProbeSpec,
    "sweep": SweepSpec,
    "ensemble": EnsembleSpec,
    "distill": DistillSpec,
}


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    if any(not p for p in parts) or len(key) > 200:
        raise RecipeError(f"{excerpt(key)}: not a dotted key")
    top = parts[0]
    if top not in Recipe.model_fields:
        raise RecipeError(f"{key}: unknown key; allowed top-level keys: {', '.join(Recipe.model_fields)}")
    if len(parts) > 1:
        section = _SECTIONS.get(top)
        if section is None:
            raise RecipeError(f"{key}: {top} has no sub-keys")
        if parts[1] not in section.model_fields:
            raise RecipeError(f"{key}: unknown key; {top} has: {', '.join(section.model_fields)}")
    if key == "data.name":
        _drop_old_defaults(data, value)
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _drop_old_defaults(data: dict[str, Any], name: Any) -> None:
    """Another dataset: forget the params that were only the old one's defaults (a recipe stores
    them filled in), so ``data.name=csv`` over the digits does not carry ``classes: null`` along."""
    from engine import datasets

    section = data.get("data")
    if not isinstance(section, dict) or section.get("name", "digits") == name:
        return
    params = section.get("params")
    if not isinstance(params, dict) or not params:
        return
    try:
        defaults = datasets.check_params(str(section.get("name", "digits")), {})
    except (RecipeError, KeyError, ValueError):
        return  # a dataset whose params are required (csv) has no defaults to forget
    section["params"] = {k: v for k, v in params.items() if k not in defaults or defaults[k] != v}


def _validate(data: dict[str, Any]) -> Recipe:
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(format_errors(exc, root=Recipe)) from None
    except RecipeError:
        raise
    _check_arch_fits_data(recipe)
    _check_compare(recipe)
    return recipe


def _check_arch_fits_data(recipe: Recipe) -> None:
    """Refuse what the architecture does not declare it can take: the dataset's kind (a transformer on
    tabular data), ``model.residual``, ``model.norm``, ``train.channels_last``, ``train.amp``."""
    from engine import datasets
    from engine.models import capabilities

    caps = capabilities(recipe.model.arch)
    error = (
        caps.data_kind_error(recipe.data.name, datasets.kind(recipe.data.name))
        or caps.spec_error(recipe.model)
        or caps.train_error(recipe.train)
    )
    if error:
        raise RecipeError(error)


def _check_compare(recipe: Recipe) -> None:
    base = recipe.to_dict()
    base["compare"] = []
    for i, variant in enumerate(recipe.compare):
        data = copy.deepcopy(base)
        try:
            for key, value in variant.set.items():
                _set_dotted(data, key, value)
            _check_arch_fits_data(Recipe.model_validate(data))
        except (RecipeError, ValidationError) as exc:
            msg = format_errors(exc, root=Recipe) if isinstance(exc, ValidationError) else str(exc)
            raise RecipeError(f"compare[{i}] ({variant.label}): {msg}") from None
