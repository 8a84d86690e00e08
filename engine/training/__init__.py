"""The training side: everything that imports torch, run in worker processes (or a lesson's process).

``session`` runs one run start to finish; ``trainer`` is the loop and fires the
named ``events``; callbacks listen (``recorder``, ``checkpoint``, the probe
manager in ``probing/``). The probes themselves are one file each in ``probes/``.
The registries here (optimizers, schedules, inits, activations, augmentations)
import torch only inside their entries, so listing their names stays torch-free.
"""
