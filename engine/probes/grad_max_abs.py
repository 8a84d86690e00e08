"""Largest absolute gradient entry of each layer (an outlier shows here before the norm moves)."""
from engine.events import Event
from engine.probes.base import Probe


class GradMaxAbs(Probe):
    name = "grad_max_abs"
    event = Event.AFTER_BACKWARD
    group = "grads"
    description = "largest |gradient| entry in the layer"

    def compute(self, ctx):
        return ctx.grad_max_abs
