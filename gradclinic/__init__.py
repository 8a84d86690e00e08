"""Gradient Clinic's Python API: watch your own training loop.

    import gradclinic

    with gradclinic.watch(model, optimizer, name="my-run") as clinic:
        for x, y in loader:
            ...
            optimizer.step()
            clinic.step(loss)

The run goes to the store the dashboard reads (``gradclinic ui``): the same probes, findings and
Live page as a recipe run. This module stays tiny and imports nothing heavy: torch and the
training side load on the first call of :func:`watch` (:mod:`engine.watch.session` documents
the design).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.watch.session import Clinic, StopTraining

__all__ = ["watch", "Clinic", "StopTraining"]


def watch(model: Any, optimizer: Any, **options: Any) -> Clinic:
    """Watch ``model`` trained by ``optimizer`` in your own loop; ``with`` it, call ``clinic.step(loss)`` each step.

    Options: ``name`` (the run's name), ``home`` (the store folder; default ``$GRADCLINIC_HOME``
    or ``./.gradclinic``, as the dashboard), ``steps`` (the planned steps, when known),
    ``budget`` (the probes' share of step time, 0.05), ``classes`` (for a classifier: chance is
    1/classes), ``intervals`` (fixed probe intervals, {probe: steps}), ``quiet``.
    """
    from engine.watch.session import Clinic

    return Clinic(model, optimizer, **options)


def __getattr__(name: str) -> Any:
    if name in ("Clinic", "StopTraining"):
        from engine.watch import session

        return getattr(session, name)
    raise AttributeError(f"module 'gradclinic' has no attribute {name!r}")
