"""Mean activation of each activation layer, on the steps the schedule picks."""
from engine.events import Event
from engine.probes.base import Probe


class ActMean(Probe):
    name = "act_mean"
    event = Event.AFTER_FORWARD
    group = "activations"
    scope = "activation"
    description = "mean of the layer's outputs"

    def compute(self, ctx):
        return ctx.act_std_mean()[1]
