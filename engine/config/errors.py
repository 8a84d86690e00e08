"""User-facing errors. Each ``str()`` is one clear message, never a traceback.

The CLI maps :class:`RecipeError` (and so :class:`DataError`) to exit code 2.
:func:`format_errors` turns a pydantic refusal into such a message.
"""

from __future__ import annotations

import reprlib
from typing import TYPE_CHECKING, Any

from engine.config import limits

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError


class RecipeError(ValueError):
    """A recipe or an override is invalid."""


class DataError(RecipeError):
    """The data a recipe points at is missing or unusable (a bad CSV, say)."""


class StoreError(RuntimeError):
    """The run store cannot be used (unknown schema version, unknown run id...)."""


def format_errors(exc: ValidationError, prefix: str = "", root: type[BaseModel] | None = None) -> str:
    """One line per pydantic error: ``dotted.path: what is wrong (got value)``.

    ``root`` is the model that was validated (for the list of keys an unknown key could have been);
    ``prefix`` the dotted path of that model in the recipe.
    """
    lines = []
    errors = exc.errors(include_url=False)
    for err in errors[: limits.MAX_ERROR_LINES]:
        loc = [str(p) for p in err["loc"]]
        path = ".".join([prefix] + loc if prefix else loc) or "recipe"
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if msg.startswith(path + "."):  # a nested schema already named the full path
            lines.append(msg)
            continue
        if err["type"] == "extra_forbidden":
            msg = "unknown key" + _known_keys_hint(loc, root)
        elif "input" in err and err["type"] not in ("missing",) and not msg.endswith(")"):
            msg = f"{msg} (got {excerpt(err['input'])})"
        lines.append(f"{path}: {_clip(msg, 4 * limits.EXCERPT_CHARS)}")
    if len(errors) > limits.MAX_ERROR_LINES:
        lines.append(f"... and {len(errors) - limits.MAX_ERROR_LINES} more")
    return "\n".join(lines)


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = limits.EXCERPT_CHARS
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6
_REPR.maxlevel = 3


def excerpt(value: Any) -> str:
    """A bounded ``repr`` of a bad value for a message: long strings, lists and nested data are cut with ``...``.

    Messages quote what the user wrote, and a plain ``repr`` of an aliased YAML structure can be
    gigabytes long; this one is at most a few hundred characters.
    """
    return _clip(_REPR.repr(value), 3 * limits.EXCERPT_CHARS)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _known_keys_hint(loc: list[str], model: type[BaseModel] | None) -> str:
    from pydantic import BaseModel

    if model is None:
        return ""
    for part in loc[:-1]:
        field = model.model_fields.get(part)
        inner = getattr(field, "annotation", None) if field else None
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            model = inner
        else:
            return ""
    return f"; allowed: {', '.join(model.model_fields)}"
