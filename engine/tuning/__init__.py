"""Tuning: hyperparameter sweeps (Optuna's samplers and pruners over real runs) and the lr range test.

Torch-free at import, like :mod:`engine.control`: the CLI and the app import these
modules; training happens in worker processes (or, for the ``inline`` executor and the
range test, inside functions that import the training side when they run).

- ``study.py``: Optuna's samplers, pruners and the study's storage beside the run store.
- ``sweep.py``: the driver: ask a trial, start it as a run, report each evaluation, prune, tell.
- ``executors/``: where trials train: ``inline`` (this process), ``local`` (the run queue's
  worker processes), ``ray`` (Ray tasks that send their rows back to the driver).
- ``results.py``: a sweep read back: trials table, best-so-far, importances.
- ``lr_find.py``: the learning-rate range test's results, cached beside the store.
"""
