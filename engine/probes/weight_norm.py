"""L2 norm of each layer's weights after the optimizer step."""
from engine.events import Event
from engine.probes.base import Probe


class WeightNorm(Probe):
    name = "weight_norm"
    event = Event.AFTER_STEP
    group = "weights"
    description = "L2 norm of the layer's weights"

    def compute(self, ctx):
        return ctx.weight_norms
