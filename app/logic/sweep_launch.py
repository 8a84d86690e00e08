"""The Launch page's sweep: the toggles a sweep can search, a default SPEC for each, the command, its process.

No Streamlit. A sweep trains, so the dashboard starts ``python -m engine.cli sweep ...``
as a detached process of its own (its own session, its output in a log under the
store home) and names the sweep itself (``--name``), so it can open the Sweep page
for it before the driver has written anything. Nothing here imports torch or Optuna.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from app.logic import toggles
from engine.config.errors import RecipeError
from engine.config.recipe import Recipe, parse_override
from engine.config.sweep import PRUNERS, SAMPLERS

ROOT = Path(__file__).resolve().parents[2]  # where `python -m engine.cli` imports this checkout
LOG_DIR = "sweep-logs"  # under the store home: one <sweep>.log and <sweep>.pid per sweep the dashboard started
#: Toggles a sweep does not search: a probe budget changes what is measured, not what is learned;
#: early stopping and augmentations are settings blocks and lists, not one value.
NOT_SEARCHED = ("probes.budget", "train.early_stopping", "data.augment")
LR_RANGE = (1e-6, 10.0)  # a learning rate search stays inside these, whatever the recipe's rate
LR_FACTOR = 30.0  # the rate is searched from lr/30 to lr*30: three decades around it
DEFAULTS = {"trials": 12, "parallel": 2}  # the Launch box's starting values (tpe and median are first/default)
_children: dict[str, subprocess.Popen] = {}  # this server's sweep drivers, polled so none is left a zombie


def default_spec(toggle: toggles.Toggle, recipe: Recipe) -> str | None:
    """A sensible SPEC to search ``toggle`` around ``recipe``'s value; None where it cannot be searched.

    The learning rate goes on a log scale over three decades around the recipe's; width on a log
    scale from a quarter to four times; depth from half to twice; dropout uniformly to 0.5; a
    choice or select every option the recipe accepts (an activation its architecture lacks is left out).
    """
    key, value = toggle.key, recipe.get(toggle.key)
    if key in NOT_SEARCHED or toggle.kind in ("multiselect", "early"):
        return None
    if key == "train.lr":
        lo, hi = max(value / LR_FACTOR, LR_RANGE[0]), min(value * LR_FACTOR, LR_RANGE[1])
        return f"loguniform({lo:.3g}, {hi:.3g})"
    if key == "model.width":
        return f"intlog({max(1, int(value) // 4)}, {min(4096, int(value) * 4)})"
    if key == "model.depth":
        return f"int({max(1, int(value) // 2)}, {max(2, int(value) * 2)})"
    if key == "model.dropout":
        return "float(0, 0.5)"
    if key == "train.batch_size":
        options = [s for s in toggles.SIZES if value / 4 <= s <= value * 4]
    elif toggle.kind == "toggle":
        options = [False, True]
    else:
        options = toggle.choices(value)
    options = [o for o in options if _fits(recipe, key, o)]
    if len(options) < 2:
        return None
    return f"choice({', '.join(_spec_value(o) for o in options)})"


def _fits(recipe: Recipe, key: str, value: Any) -> bool:
    try:
        recipe.with_overrides({key: value})
    except RecipeError:
        return False
    return True


def _spec_value(value: Any) -> str:
    """A choice as the SPEC's YAML reads it back: ``null``, ``true``, ``1.0e-05`` (YAML 1.1 wants the dot)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:
            mantissa, exp = text.split("e")
            text = f"{mantissa}.0e{exp}"
        return text
    return str(value)


def searchable(recipe: Recipe) -> dict[str, tuple[str, str]]:
    """{toggle key: (its label, the default SPEC)} for every toggle a sweep of ``recipe`` can search."""
    out = {}
    for t in toggles.TOGGLES:
        spec = default_spec(t, recipe)
        if spec is not None:
            out[t.key] = (t.label, spec)
    return out


def new_name() -> str:
    """A fresh sweep id in the driver's own form, ``sweep-<6 hex>``."""
    return f"sweep-{secrets.token_hex(3)}"


def sweep_args(
    recipe_name: str,
    sets: dict[str, Any],
    space: dict[str, str],
    *,
    sampler: str = "tpe",
    trials: int = 12,
    pruner: str = "median",
    parallel: int = 2,
    home: str | Path | None = None,
    name: str | None = None,
) -> list[str]:
    """The ``gradclinic sweep`` arguments for this setup: its overrides (bar the searched keys) and the space."""
    if not space:
        raise RecipeError("pick at least one setting to search")
    if sampler not in SAMPLERS or pruner not in PRUNERS:
        raise RecipeError(f"sampler must be one of {', '.join(SAMPLERS)} and pruner one of {', '.join(PRUNERS)}")
    args = ["gradclinic", *(["--home", str(home)] if home else []), "sweep", recipe_name]
    for key, value in sets.items():
        if key not in space:  # a searched key's own value would only be drawn over
            args += ["--set", _flag(key, value)]
    for key, spec in space.items():
        args += ["--space", f"{key}={spec}"]
    args += ["--sampler", sampler, "--trials", str(int(trials)), "--pruner", pruner, "--parallel", str(int(parallel))]
    return args + (["--name", name] if name else [])


def _flag(key: str, value: Any) -> str:
    # `model.init=he_normal` where the bare word reads back as the same string; JSON otherwise.
    plain = f"{key}={value}"
    return plain if isinstance(value, str) and parse_override(plain) == (key, value) else toggles.encode(key, value)


def command_line(args: list[str]) -> str:
    """:func:`sweep_args` as one line to paste into a POSIX shell."""
    return shlex.join(args)


def log_path(home: str | Path, name: str) -> Path:
    """Where the dashboard's sweep ``name`` writes its output."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", name):  # a URL's name must not climb out of the folder
        raise ValueError(f"not a sweep name: {name!r}")
    return Path(home) / LOG_DIR / f"{name}.log"


def start(args: list[str], home: str | Path, name: str) -> Path:
    """Start ``args`` (from :func:`sweep_args`, naming ``name``) as a detached driver; returns its log's path.

    Its own session, so a Streamlit rerun, a closed tab or Ctrl-C in the server's terminal never
    reaches it; stdin closed; stdout and stderr into the log, whose first line is the command.
    """
    log = log_path(home, name)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"$ {command_line(args)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", *args[1:]],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    _children[name] = proc
    log.with_suffix(".pid").write_text(str(proc.pid))
    return log


def driver_alive(home: str | Path, name: str) -> bool:
    """True while the driver the dashboard started for ``name`` runs (False when it never did)."""
    proc = _children.get(name)
    if proc is not None:
        return proc.poll() is None  # (polling reaps it once it ends)
    try:
        pid = int(log_path(home, name).with_suffix(".pid").read_text())
        if not Path("/proc").is_dir():  # not Linux: a signal 0 says whether the pid exists
            os.kill(pid, 0)
            return True
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return False
    return state != "Z"  # a driver another server started and has not reaped yet is over


def log_tail(home: str | Path, name: str, lines: int = 20) -> str | None:
    """The last lines of the sweep's log; None when the dashboard did not start it."""
    try:
        text = log_path(home, name).read_text(errors="replace")
    except (OSError, ValueError):
        return None
    return "\n".join(text.splitlines()[-lines:])


def trials_caption(trials: int, parallel: int, steps: int) -> str:
    """How much training a sweep is: its trials, how many at a time, each of the recipe's steps."""
    rounds = math.ceil(trials / max(1, parallel))
    return (
        f"{trials} runs of {steps:,} steps, {parallel} at a time ({rounds} rounds); a pruner cuts the laggards short."
    )
