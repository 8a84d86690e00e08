"""One probe per file: ``grad_norm.py`` records the statistic ``grad_norm``.

A probe file defines one :class:`engine.training.probing.base.Probe` subclass
whose ``name`` is the file's name; the probe manager finds it by that name.
Keep this package free of imports: the recipe lists its modules without torch.
"""
