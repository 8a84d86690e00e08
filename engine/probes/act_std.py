"""Standard deviation of each activation layer's outputs (collapsing to 0 = no signal)."""
from engine.events import Event
from engine.probes.base import Probe


class ActStd(Probe):
    name = "act_std"
    event = Event.AFTER_FORWARD
    group = "activations"
    scope = "activation"
    description = "standard deviation of the layer's outputs"

    def compute(self, ctx):
        return ctx.act_std_mean()[0]
