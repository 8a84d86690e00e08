"""L2 norm of each layer's gradient, measured before clipping."""
from engine.events import Event
from engine.probes.base import Probe


class GradNorm(Probe):
    name = "grad_norm"
    event = Event.AFTER_BACKWARD
    group = "grads"
    description = "L2 norm of the layer's gradient (before clipping)"

    def compute(self, ctx):
        return ctx.grad_norms
