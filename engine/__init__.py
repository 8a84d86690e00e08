"""Gradient Clinic's engine: everything that is not UI.

Torch-free modules (safe to import from the app): ``recipe``, ``store``,
``runs``, ``registry`` and the name lists of the registries. Torch-heavy
modules (data, models, trainer, probes) run inside worker processes.
"""
