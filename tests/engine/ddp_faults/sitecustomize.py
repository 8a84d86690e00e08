"""A fault for tests/engine/test_ddp.py: one rank of a run across processes dies mid-run.

Loaded through PYTHONPATH by every rank torchrun starts; does nothing unless ``GC_DDP_KILL`` is
``RANK:STEP``, and then the process of that rank exits at once (no cleanup, as a killed process
would) when its trainer reaches that step.
"""

import os

_KILL = os.environ.get("GC_DDP_KILL")
if _KILL and os.environ.get("RANK") == _KILL.split(":")[0]:
    from engine.training import trainer as _trainer

    _step = int(_KILL.split(":")[1])
    _original = _trainer.Trainer._train_step

    def _train_step(self):
        if self.state.step >= _step:
            os._exit(9)
        return _original(self)

    _trainer.Trainer._train_step = _train_step
