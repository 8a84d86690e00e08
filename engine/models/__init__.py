"""Architecture registry: ``engine/models/<arch>.py`` is ``model.arch: <arch>``.

Each architecture module defines ``build(spec, data) -> ClinicModel`` and
raises :class:`~engine.errors.RecipeError` (naming the dotted key) for
combinations it cannot honour. Adding an architecture means adding one file.

This package must stay importable without torch: ``engine.names`` imports it
to list the architectures for torch-free recipe validation.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.datasets.base import Dataset
    from engine.models.base import ClinicModel
    from engine.recipe import ModelSpec


#: Data kinds an architecture accepts, where it does not take every kind.
#: Torch-free, so that a recipe is refused at load time (``model.arch``),
#: before anything is launched; each ``build`` still checks the exact shape.
DATA_KINDS: dict[str, tuple[str, ...]] = {
    "cnn": ("image",),
    "transformer": ("sequence", "image"),
    "gan": ("tabular",),
}


def data_kind_error(arch: str, dataset: str, kind: str) -> str | None:
    """The refusal for ``arch`` on a dataset of ``kind``, or None when it fits."""
    kinds = DATA_KINDS.get(arch)
    if kinds is None or kind in kinds:
        return None
    needs = {"gan": "2-D points (tabular data with 2 features)"}.get(arch, f"{' or '.join(kinds)} data")
    hint = {"cnn": "digits", "transformer": "adding, copy or sine", "gan": "ring, moons, circles or spirals"}
    return (f"model.arch: {arch} needs {needs}, and dataset {dataset!r} is {kind}"
            + (f"; try data.name: {hint[arch]}" if arch in hint else ""))


def build_model(spec: "ModelSpec", data: "Dataset") -> "ClinicModel":
    """Build ``spec.arch`` for ``data`` and initialise its weights with ``spec.init``."""
    from engine.errors import RecipeError
    from engine.inits import apply_init
    from engine.names import ARCHITECTURES

    try:
        module = ARCHITECTURES.module(spec.arch)
    except KeyError as exc:
        raise RecipeError(f"model.arch: {exc.args[0]}") from None
    model = module.build(spec, data)
    # The model's own activation, not spec.activation: LSTM/GRU ignore the
    # latter, and a relu gain would oversize their tanh-gated weights.
    apply_init(model, spec.init, model.activation_name, spec.init_std)
    return model
