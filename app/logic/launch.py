"""The Launch page's logic: URL state, the recipe gallery's order, resolving toggles, CSV uploads.

Plain functions over plain values (no Streamlit), so they are tested without a
browser; :mod:`app.widgets.launch` draws the widgets that use them.

A link is untrusted input: it may name only a built-in recipe, and every setup
the dashboard resolves may read data only from its uploads folder (or the
project's ``sample_data/``), so a link can never make the server read, echo or
train on an arbitrary file. Uploads are checked before they are kept.
"""

from __future__ import annotations

import os
import re
import shlex
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.logic import toggles
from engine import datasets
from engine.config.errors import RecipeError
from engine.config.recipe import Recipe, list_recipe_names, load_recipe, parse_override
from engine.control import budget
from engine.datasets import csv as csv_data
from engine.store import default_home

DEFAULT_RECIPE = "vanishing-sigmoid"
CUSTOM = "custom"  # the built-in defaults, which an uploaded CSV starts from
MAX_UPLOAD_MB = 20
MAX_SEEDS = 10  # runs per variant from the Compare button (each is a full run)
ADVANCED_HINT = (
    "seed",
    "train.steps",
    "train.eval_every",
    "train.optimizer",
    "train.clip_value",
    "data.val_fraction",
    "data.train_limit",
    "data.params.<name>",
    "model.init_std",
    "probes.intervals.<probe>",
    "train.device",
)
# Letters, digits, spaces, _ - + ( ): "penguins (1).csv" keeps its name; no dots or slashes,
# so the stem can never climb out of the uploads folder.
_SAFE = re.compile(r"[^\w ()+-]+")
# The order a course would take the lessons in; lessons not listed follow, by name.
CURRICULUM = (
    "vanishing-sigmoid",
    "exploding-residual",
    "exploding-rnn",
    "long-range-memory",
    "overfitting-small-data",
    "lr-schedules",
    "batch-norm",
    "optimizers",
    "batch-size-lr",
    "model-capacity",
    "mlp-vs-cnn",
    "rnn-vs-transformer",
    "crnn-moving-digits",
    "autoencoder-anomaly",
    "gan-2d",
)


# --- URL state ------------------------------------------------------------------


def from_query(params: Mapping) -> tuple[str, list[str]]:
    """(recipe name, ``key=value`` overrides) from the URL's query parameters."""
    name = params.get("recipe") or DEFAULT_RECIPE
    sets = params.get_all("set") if hasattr(params, "get_all") else list(params.get("set") or [])
    return str(name), [str(s) for s in sets]


def base_recipe(name: str) -> tuple[Recipe | None, str | None]:
    """The recipe before any toggle, or (None, message); only built-in names (a link must not open files)."""
    if name != CUSTOM and name not in list_recipe_names():
        return None, f"no built-in recipe named {csv_data.clip(name, 60)!r}; a link can open only built-in recipes"
    try:
        return (load_recipe(None) if name == CUSTOM else load_recipe(name)), None
    except RecipeError as exc:
        return None, str(exc)


def resolve(
    base: Recipe, toggle_sets: dict[str, Any], advanced_text: str, uploads: Path | None = None
) -> tuple[Recipe | None, str | None]:
    """Apply toggles then the Advanced lines; (recipe, None) or (None, the engine's message).

    The result may read data only where :func:`check_data_path` allows.
    """
    try:
        recipe = base.with_overrides({**toggle_sets, **advanced_sets(advanced_text, strict=True)})
        check_data_path(recipe, base, uploads)
        budget.check_fits(recipe)  # too big for this machine: said before Launch can be pressed
    except RecipeError as exc:
        return None, str(exc)
    return recipe, None


def uploads_folder() -> Path:
    """Where the dashboard keeps uploads: ``uploads/`` in the store :func:`app.ui.store` opens."""
    return Path(os.environ.get("GRADCLINIC_HOME") or default_home()).expanduser().resolve() / csv_data.UPLOADS


def check_data_path(recipe: Recipe, base: Recipe, uploads: Path | None = None) -> None:
    """Refuse a dashboard setup whose ``data.params.path`` lies outside the uploads folder.

    Whatever a link or the Advanced box sets is untrusted; the path a built-in
    recipe itself names, and the project's ``sample_data/``, are allowed.
    Symlinks and ``..`` are resolved first. Raises :class:`RecipeError`.
    """
    raw = (recipe.data.params or {}).get("path")
    if raw is None or (recipe.data.name == base.data.name and raw == (base.data.params or {}).get("path")):
        return
    folders = (uploads or uploads_folder(), csv_data.PROJECT_ROOT / "sample_data")
    if _reads_inside(str(raw), folders):
        return
    raise RecipeError(
        f"data.params.path: the dashboard reads only CSV files uploaded to it "
        f"(kept in {csv_data.clip(folders[0], 120)}) "
        f'or sample_data/, not {csv_data.clip(raw, 80)!r}; upload the file under "Your own data", or train on it '
        f"from the command line (gradclinic run RECIPE --set data.params.path=...)"
    )


def _reads_inside(raw: str, folders: tuple[Path, ...]) -> bool:
    # The file the CSV loader would open (csv.resolve's rule), with symlinks and ".." resolved.
    try:
        path = Path(raw).expanduser()
        if not path.is_absolute() and not path.exists() and (csv_data.PROJECT_ROOT / path).exists():
            path = csv_data.PROJECT_ROOT / path
        real = Path(os.path.realpath(path))
        return any(real.is_relative_to(os.path.realpath(f)) for f in folders)
    except (OSError, ValueError):  # a NUL byte, a name too long: not a file we would read
        return False


def advanced_sets(text: str, strict: bool = False) -> dict[str, Any]:
    """The Advanced box's ``key=value`` lines; malformed lines raise only when ``strict``."""
    try:
        return toggles.decode((text or "").splitlines())
    except RecipeError:
        if strict:
            raise
        return {}


def baseline_of(base: Recipe, advanced_text: str, uploads: Path | None = None) -> Recipe:
    """A comparison's baseline: the recipe plus the Advanced settings, without the toggles."""
    baseline = base.with_overrides(advanced_sets(advanced_text, strict=True))
    check_data_path(baseline, base, uploads)
    return baseline


def variant_options(base: Recipe, toggle_sets: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What Compare can run against the baseline: each changed toggle alone, then the recipe's remedies."""
    options = {f"{k}={toggles.format_choice(v)}": {k: v} for k, v in toggle_sets.items()}
    for v in base.compare:
        options.setdefault(v.label, dict(v.set))
    return options


def setup_sets(toggle_sets: dict[str, Any], advanced_text: str) -> dict[str, Any]:
    """Every change the page makes to the recipe: the toggles, then the Advanced lines (which win)."""
    return {**toggle_sets, **advanced_sets(advanced_text)}


def describe_value(key: str, value: Any) -> str:
    """A setting as a label: an uploaded CSV by the name it was uploaded as, not its stored path."""
    if key == "data.params" and isinstance(value, dict) and "path" in value:
        rest = {k: v for k, v in value.items() if k != "path"}
        shown = upload_display_name(value["path"])
        return shown + (f", {toggles.format_choice(rest)}" if rest else "")
    return toggles.format_choice(value)


def describe_changes(sets: dict[str, Any]) -> str:
    """The caption's list of changes from the recipe, toggles and Advanced lines alike."""
    return ", ".join(f"`{k}={describe_value(k, v)}`" for k, v in sets.items())


def run_name(base: Recipe, sets: dict[str, Any]) -> str:
    """A run's display name: the recipe (or uploaded file), plus everything the user changed.

    ``sets`` holds the toggles and the Advanced lines, so two runs that differ
    only in an Advanced key still get different names.
    """
    upload = csv_upload(sets)
    label = upload[0] if upload and base.name == CUSTOM else base.name
    shown = {k: v for k, v in sets.items() if not (upload and label == upload[0] and k in _CSV_KEYS)}
    if not shown:
        return label
    return f"{label}: " + ", ".join(f"{k.split('.')[-1]}={describe_value(k, v)}" for k, v in shown.items())[:70]


_CSV_KEYS = ("data.name", "data.params")


def upload_display_name(path: str | Path) -> str:
    """The file name an upload was given, without the content-hash prefix :func:`save_upload` adds.

    The same name a running job's data errors use (:func:`engine.datasets.csv.shown_name`).
    """
    return csv_data.shown_name(path)


def csv_upload(sets: dict[str, Any]) -> tuple[str, str] | None:
    """(the uploaded file's name, its target column) when ``sets`` train on a CSV file, else None."""
    params = sets.get("data.params")
    if sets.get("data.name") != "csv" or not isinstance(params, dict) or not params.get("path"):
        return None
    return upload_display_name(params["path"]), str(params.get("target", ""))


def page_title(base: Recipe, sets: dict[str, Any]) -> str:
    """The Launch page's heading: the recipe's title, or the uploaded file's name for a CSV setup."""
    upload = csv_upload(sets)
    if base.name == CUSTOM and upload:
        return f"Your data: {upload[0]}"
    return base.title or base.name


def cli_args(name: str, sets: dict[str, Any], *, home: str | Path | None = None, label: str | None = None) -> list[str]:
    """The ``gradclinic run`` arguments that train this setup from a terminal, into the same store.

    ``custom`` (where an uploaded CSV starts) names the built-in defaults there too; each
    override is one ``--set key=value`` in the URL's own encoding, which ``--set`` reads back.
    """
    args = ["gradclinic", *(["--home", str(home)] if home else []), "run", name]
    for key, value in sets.items():
        args += ["--set", _flag(key, value)]
    return args + (["--name", label] if label else [])


def _flag(key: str, value: Any) -> str:
    # `model.init=he_normal` where the bare word reads back as the same string; JSON otherwise.
    plain = f"{key}={value}"
    return plain if isinstance(value, str) and parse_override(plain) == (key, value) else toggles.encode(key, value)


def cli_command(name: str, sets: dict[str, Any], *, home: str | Path | None = None, label: str | None = None) -> str:
    """:func:`cli_args` as one line to paste into a POSIX shell (quoted where needed)."""
    return shlex.join(cli_args(name, sets, home=home, label=label))


def lesson_rest(base: Recipe) -> str:
    """The lesson after its first paragraph, which the page already shows as the summary under the title."""
    paragraphs = base.lesson.strip().split("\n\n", 1) if base.lesson else []
    return paragraphs[1].strip() if len(paragraphs) > 1 else ""


def data_summary(data: datasets.Dataset) -> str:
    """One line about a prepared dataset: rows, features, and its classes or that it is a regression."""
    features = 1
    for size in data.input_shape:
        features *= size
    rows = data.extras.get("n_total", len(data.y_train) + len(data.y_val))
    if data.task == "classification" and data.n_classes:
        names = ", ".join(str(c) for c in data.class_names[:6]) + ("…" if len(data.class_names) > 6 else "")
        target = f"{data.n_classes} classes" + (f" ({names})" if names else "")
    else:
        target = f"regression ({data.out_dim} output{'s' if data.out_dim != 1 else ''})"
    return f"{rows:,} rows · {features:,} features · {target}"


def load_data(spec: Any, seed: int) -> datasets.Dataset | None:
    """The prepared data a recipe names, or None where it cannot be loaded (the run says why)."""
    try:
        return datasets.prepare(spec, seed)
    except RecipeError:  # DataError is a RecipeError
        return None


def summarise_data(spec: Any, seed: int) -> str | None:
    """:func:`data_summary` of the data a recipe names, or None where it cannot be loaded."""
    data = load_data(spec, seed)
    return None if data is None else data_summary(data)


def upload_columns(filename: str, data: bytes) -> tuple[list[str], str | None]:
    """(the header's column names, None), or ([], why the upload is refused): size, then header only.

    A refusal names the file as the user uploaded it.
    """
    name = shown_name(filename)
    if len(data) > MAX_UPLOAD_MB * 2**20:
        return [], f"{name} is {len(data) / 2**20:.1f} MB; uploads are limited to {MAX_UPLOAD_MB} MB"
    if not data:
        return [], f"{name}: the file is empty"
    head = data[: csv_data.HEADER_BYTES]
    try:
        names = csv_data.read_header(head, _stem(filename) + ".csv", whole=len(data) <= csv_data.HEADER_BYTES)
    except RecipeError as exc:  # DataError is a RecipeError
        return [], f"This CSV cannot be used: {_renamed(str(exc), _stem(filename) + '.csv', name)}"
    if not names:
        return [], f"{name}: the file has no header line"
    return names, None


def accept_upload(home: Path, filename: str, data: bytes, target: str) -> tuple[Path | None, str | None]:
    """Check an upload exactly as a run would, then keep it: (its path, None) or (None, the refusal).

    The bytes are checked from a private temporary folder, outside the uploads
    folder, so a refused file leaves nothing behind.
    """
    _, error = upload_columns(filename, data)
    if error:
        return None, error
    with tempfile.TemporaryDirectory(prefix="gradclinic-upload-") as tmp:
        probe = Path(tmp) / f"{_stem(filename)}.csv"
        probe.write_bytes(data)
        error = check_csv(csv_sets(probe, target))
    if error:
        return None, _renamed(_renamed(error, str(probe), probe.name), probe.name, shown_name(filename))
    return save_upload(home, filename, data), None


def csv_sets(path: Path, target: str) -> dict[str, Any]:
    """The overrides that train on a CSV file."""
    return {"data.name": "csv", "data.params": {"path": str(path), "target": str(target)}}


def save_upload(home, filename: str, data: bytes):
    """Store an upload under ``home/uploads`` with a content-hash name (never the user's path).

    Stores without checking: :func:`accept_upload` checks first, then calls this.
    """
    folder = Path(home) / csv_data.UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / csv_data.upload_file_name(data, _stem(filename))
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def check_csv(sets: dict[str, Any]) -> str | None:
    """Load the CSV the way a run would (torch-free), so a bad file is refused before launch."""
    try:
        recipe = load_recipe(None, sets)
        datasets.prepare(recipe.data, recipe.seed)
    except RecipeError as exc:  # DataError is a RecipeError
        return f"This CSV cannot be used: {exc}"
    return None


def shown_name(filename: str) -> str:
    """The uploaded file's own name (no folders, clipped), for messages about it."""
    return csv_data.clip(filename.replace("\\", "/").rsplit("/", 1)[-1], 60) or "data.csv"


def _renamed(message: str, stored: str, shown: str) -> str:
    # The loader names the file it opened (a temporary or content-hash name); say the user's name.
    return message.replace(stored, shown)


def _stem(filename: str) -> str:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]  # a browser may send C:\Users\me\name.csv
    return _SAFE.sub("_", base.rsplit(".", 1)[0]).strip()[:40].strip() or "data"


def recipe_cards() -> dict[str, dict[str, Any]]:
    """{recipe name: title, summary, whether it is a lesson} for the gallery, in course order."""
    out = {}
    for n in list_recipe_names():
        try:
            r = load_recipe(n)
        except RecipeError:
            continue  # a broken recipe file must not take the gallery down; `gradclinic recipes` names it
        out[n] = {"title": r.title or n, "summary": r.summary, "lesson": r.is_lesson}
    return dict(sorted(out.items(), key=lambda kv: course_order(kv[0])))


def course_order(name: str) -> tuple[int, str]:
    """Sort key: lessons in :data:`CURRICULUM` order, then everything else by name."""
    return (CURRICULUM.index(name) if name in CURRICULUM else len(CURRICULUM), name)


def is_image_data(recipe: Recipe) -> bool:
    """Whether the recipe's dataset is images (augmentation applies only there)."""
    return datasets.kind(recipe.data.name) == "image"
