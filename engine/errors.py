"""User-facing errors. Each ``str()`` is one clear message, never a traceback.

The CLI maps :class:`RecipeError` (and so :class:`DataError`) to exit code 2.
"""


class RecipeError(ValueError):
    """A recipe or an override is invalid."""


class DataError(RecipeError):
    """The data a recipe points at is missing or unusable (a bad CSV, say)."""


class StoreError(RuntimeError):
    """The run store cannot be used (unknown schema version, unknown run id...)."""
