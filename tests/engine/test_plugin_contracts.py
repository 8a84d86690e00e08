"""Plugins describe themselves, and the machinery follows the description (or refuses it at definition)."""

from types import SimpleNamespace

import pytest
import torch

from engine.config.recipe import ModelSpec
from engine.diagnosis.rules.base import Rule
from engine.models import build_model
from engine.training.events import Callback, Event, dispatch_table
from engine.training.probing import planner
from engine.training.probing.base import Probe
from engine.training.probing.manager import ProbeManager
from tests.engine.test_probes import tiny_data


def small_model():
    torch.manual_seed(0)
    return build_model(ModelSpec(arch="mlp", depth=2, width=8, activation="relu"), tiny_data())


# --- probes ----------------------------------------------------------------------------


class GradNormAfterTheStep(Probe):
    """A gradient statistic read at after_step (the gradients are still there) in a group of its own."""

    name = "late_grad_norm"
    event = Event.AFTER_STEP
    group = "curvature"  # a group the planner has never heard of
    description = "gradient norm, read after the optimizer step"

    def compute(self, ctx):
        return torch.stack([p.grad.norm() for p in ctx.params])


def drive(manager, model, steps):
    x, y = torch.randn(16, 6), torch.randint(0, 3, (16,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(1, steps + 1):
        state = SimpleNamespace(step=step)
        manager.before_step(state)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        manager.after_forward(state)
        opt.zero_grad()
        loss.backward()
        manager.after_backward(state)
        opt.step()
        manager.after_step(state)


def test_a_probe_runs_at_the_event_it_declares_and_a_new_group_is_planned():
    model = small_model()
    manager = ProbeManager(model, budget=0.05, probes=[GradNormAfterTheStep()])
    drive(manager, model, steps=planner.WARMUP_STEPS + 3)
    steps, values = manager.drain()["late_grad_norm"]
    assert steps[: planner.WARMUP_STEPS].tolist() == list(range(1, planner.WARMUP_STEPS + 1))
    assert values.shape[1] == len(model.param_layers()) and (values > 0).all()
    plan = manager.schedule()
    assert plan["groups"]["curvature"]["probes"] == ["late_grad_norm"]
    assert plan["probes"]["late_grad_norm"]["event"] == "after_step"


@pytest.mark.parametrize(
    "attrs,message",
    [
        ({"event": Event.AFTER_FIT}, "event must be one of"),
        ({"scope": "galaxy"}, "scope must be one of"),
        ({"scope": "activation", "event": Event.AFTER_BACKWARD}, "only at after_forward"),
        ({"needs_snapshot": True, "event": Event.AFTER_BACKWARD}, "use after_step"),
        ({"description": ""}, "description"),
        ({"name": "two words"}, "identifier"),
    ],
)
def test_a_misdeclared_probe_is_refused_when_its_class_is_defined(attrs, message):
    declared = {
        "name": "odd",
        "event": Event.AFTER_BACKWARD,
        "group": "grads",
        "description": "an odd probe",
        "compute": lambda self, ctx: ctx.grad_norms,
        **attrs,
    }
    with pytest.raises(TypeError, match=message):
        type("Odd", (Probe,), declared)


def test_a_probe_without_compute_or_a_group_is_refused():
    with pytest.raises(TypeError, match="compute"):
        type("NoCompute", (Probe,), {"name": "x", "event": Event.AFTER_STEP, "group": "g", "description": "d"})
    with pytest.raises(TypeError, match="declare group"):
        type(
            "NoGroup",
            (Probe,),
            {"name": "x", "event": Event.AFTER_STEP, "description": "d", "compute": lambda self, ctx: ctx.grad_norms},
        )


def test_the_planner_is_arithmetic_on_costs():
    # 1 ms of gradient statistics on a 10 ms step with a 5% budget at 40% headroom: the probes
    # may take 2% of 10 ms = 0.2 ms a step; alone, the group gets all of it, so it runs every 5 steps.
    intervals = planner.plan({"grads": 1e-3}, step_s=10e-3, budget=0.05, current={"grads": 1})
    assert intervals == {"grads": 5}
    assert planner.plan({"grads": None}, 10e-3, 0.05, {"grads": 7}) == {"grads": 7}  # unmeasured: kept
    assert planner.order(["weights", "zeta", "grads", "activations"]) == ["grads", "activations", "weights", "zeta"]


# --- callbacks ---------------------------------------------------------------------------


class Counts(Callback):
    def __init__(self):
        self.seen = []

    def after_backward(self, state):
        self.seen.append(("backward", state.step))

    def after_eval(self, state):
        self.seen.append(("eval", state.step))


def test_the_dispatch_table_holds_only_the_methods_a_callback_overrides():
    cb = Counts()
    table = dispatch_table([cb])
    assert [e for e, handlers in table.items() if handlers] == [Event.AFTER_BACKWARD, Event.AFTER_EVAL]
    for handler in table[Event.AFTER_BACKWARD]:
        handler(SimpleNamespace(step=3))
    cb.handle(Event.AFTER_EVAL, SimpleNamespace(step=4))
    assert cb.seen == [("backward", 3), ("eval", 4)]


def test_a_listener_that_is_not_a_callback_is_refused():
    class Duck:
        def on(self, event, state):
            pass

    with pytest.raises(TypeError, match="not an engine.training.events.Callback"):
        dispatch_table([Duck()])


# --- rules -------------------------------------------------------------------------------


def test_a_rule_naming_an_unknown_remedy_or_code_is_refused_when_defined():
    with pytest.raises(TypeError, match="unknown remedy 'he_reluu'"):
        type("Typo", (Rule,), {"code": "vanishing_gradients", "remedies": ["he_reluu"]})
    with pytest.raises(TypeError, match="code must be one of the finding codes"):
        type("NewCode", (Rule,), {"code": "vanishing_gradient", "remedies": []})
