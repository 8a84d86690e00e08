"""The watch API on tiny models: what it records, where it measures, how the run ends.

Each test trains a few dozen steps of a small MLP in this process (one torch thread), into a
store in a temp folder. Fixed probe intervals (``intervals=``) make the records independent of
how busy the machine is.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import gradclinic
from engine.control import lifecycle, queue, watched
from engine.store import Store
from engine.watch import facts
from engine.watch.session import StopTraining

EVERY_STEP = {
    "grad_norm": 1,
    "grad_max_abs": 1,
    "nonfinite": 1,
    "update_ratio": 1,
    "act_mean": 1,
    "act_std": 1,
    "saturated_fraction": 1,
}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def mlp(depth: int = 3, act: type[nn.Module] = nn.Sigmoid) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(8 if i == 0 else 16, 16), act()]
    return nn.Sequential(*layers, nn.Linear(16, 3))


def batches(n: int, seed: int = 0, size: int = 16):
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        yield torch.randn(size, 8, generator=g), torch.randint(0, 3, (size,), generator=g)


def grad_norms(store: Store, run_id: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    return store.layer_matrix(run_id, "grad_norm")


@pytest.fixture(autouse=True)
def _quiet_threads(one_thread):
    torch.manual_seed(0)


def test_a_watched_loop_is_a_run_in_the_store_running_then_completed(tmp_path):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with gradclinic.watch(model, opt, name="tiny", home=tmp_path, steps=40, intervals=EVERY_STEP, quiet=True) as c:
        for i, (x, y) in enumerate(batches(40)):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            c.step(loss)
            if i == 9:
                with Store(tmp_path) as other:  # as the dashboard reads it, mid-run
                    run = other.get_run(c.run_id)
                    assert queue.observed(run)["status"] == "running"
                    assert run["pid"] == os.getpid() and run["total_steps"] == 40
            if i % 10 == 9:
                c.eval(val_loss=float(loss.detach()), val_accuracy=0.4)
    assert c.status == "completed"
    with Store(tmp_path) as store:
        run = store.get_run(c.run_id)
        assert run["status"] == "completed" and run["name"] == "tiny" and run["recipe_name"] == watched.RECIPE_NAME
        assert watched.is_watched(run) and run["summary"]["steps"] == 40
        assert run["summary"]["final"]["val_accuracy"] == pytest.approx(0.4)
        w = run["recipe"]["watch"]
        assert (w["activation"], w["activation_family"], w["init"], w["optimizer"]) == (
            "sigmoid",
            "saturating",
            "default",
            "sgd",
        )
        assert run["recipe"]["train"]["batch_size"] == 16
        layers = store.layers(c.run_id)
        assert layers[layers["kind"] == "param"]["name"].tolist() == ["0", "2", "4", "6"]
        acts = layers[layers["kind"] == "activation"]
        assert acts["name"].tolist() == ["1", "3", "5"] and set(acts["family"]) == {"saturating"}
        steps, names, values = grad_norms(store, c.run_id)
        assert steps.tolist() == list(range(1, 41)) and values.shape == (40, 4) and np.isfinite(values).all()
        act_steps, _, _ = store.layer_matrix(c.run_id, "act_mean")
        assert act_steps.tolist() == list(range(2, 41))  # step 1's forward ran before the layers were known
        wide = store.scalars_wide(c.run_id)
        assert wide["train_loss"].dropna().index.tolist() == list(range(1, 41))
        assert {"samples_per_s", "probe_overhead", "data_wait", "time_compute"} <= set(wide.columns)
        assert "⚠" not in watched.caption(run) and "nn.Sigmoid" in watched.caption(run)


def test_gradients_are_measured_where_the_update_is_made_with_accumulation(tmp_path):
    """Four micro-batches per update, clinic.step per micro-batch: one record per update, of the summed gradient."""
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    expected = []
    with gradclinic.watch(model, opt, home=tmp_path, intervals=EVERY_STEP, quiet=True) as c:
        for i, (x, y) in enumerate(batches(32)):
            loss = F.cross_entropy(model(x), y) / 4
            loss.backward()
            if i % 4 == 3:
                expected.append([float(model[j].weight.grad.norm()) for j in (0, 2, 4, 6)])
                with torch.no_grad():  # an evaluation forward in the window: not mixed into the activations
                    model.eval()
                    model(x)
                    model.train()
                opt.step()
                opt.zero_grad()
            c.step(loss)
    with Store(tmp_path) as store:
        steps, _, values = grad_norms(store, c.run_id)
        assert len(steps) == 8 == len(set(steps.tolist()))
        np.testing.assert_allclose(values, np.array(expected), rtol=1e-5)
        act_steps, _, acts = store.layer_matrix(c.run_id, "act_mean")
        assert len(act_steps) >= 7 and np.isfinite(acts).all()  # every update after the first has its activations


def test_clipping_any_optimizer_and_a_shared_activation_module(tmp_path):
    """Adam, clipping before the step (the probes see the clipped gradient), one nn.Tanh applied three times."""

    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(16, 3)  # registered first, applied last: the layers follow the forward
            self.body = nn.ModuleList([nn.Linear(8, 16), nn.Linear(16, 16), nn.Linear(16, 16)])
            self.act = nn.Tanh()

        def forward(self, x):
            for layer in self.body:
                x = self.act(layer(x))
            return self.head(x)

    model = Shared()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    with gradclinic.watch(model, opt, home=tmp_path, intervals=EVERY_STEP, quiet=True) as c:
        for x, y in batches(20):
            loss = F.cross_entropy(model(x), y) * 100
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            opt.step()
            c.step(loss)
    with Store(tmp_path) as store:
        steps, names, values = grad_norms(store, c.run_id)
        assert names == ["body.0", "body.1", "body.2", "head"]
        assert (np.sqrt((values**2).sum(axis=1)) <= 0.5 + 1e-4).all()  # what the update used
        layers = store.layers(c.run_id)
        assert layers[layers["kind"] == "activation"]["name"].tolist() == ["act#1", "act#2", "act#3"]
        assert len(store.layer_matrix(c.run_id, "saturated_fraction")[0]) == 19
        w = store.get_run(c.run_id)["recipe"]["watch"]
        assert (w["optimizer"], w["activation_module"], w["activation_layers"]) == ("adam", "Tanh", 3)


def test_a_step_with_a_closure_is_probed_after_the_closure_s_backward(tmp_path):
    """optimizer.step(closure), as Lightning steps: the forward and backward run inside the step."""
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    expected = []
    with gradclinic.watch(model, opt, home=tmp_path, intervals=EVERY_STEP, quiet=True) as c:
        for x, y in batches(12):

            def closure(x=x, y=y):
                opt.zero_grad()
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                expected.append([float(model[j].weight.grad.norm()) for j in (0, 2, 4, 6)])
                return loss

            c.step(opt.step(closure))
    with Store(tmp_path) as store:
        steps, names, values = grad_norms(store, c.run_id)
        assert steps.tolist() == list(range(1, 13)) and names == ["0", "2", "4", "6"]
        np.testing.assert_allclose(values, np.array(expected), rtol=1e-5)
        assert store.layer_matrix(c.run_id, "act_mean")[0].tolist() == list(range(2, 13))


def test_grad_scaler_unscaled_gradients_and_a_skipped_step_is_no_finding(tmp_path):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    expected = []
    with gradclinic.watch(model, opt, home=tmp_path, intervals=EVERY_STEP, quiet=True) as c:
        for i, (x, y) in enumerate(batches(30)):
            if i in (20, 21):  # step 21's scaled gradients overflow, and the scaler skips that update
                scaler.update(new_scale=1e30 if i == 20 else 1024.0)
            with torch.autocast("cpu", dtype=torch.float16):
                out = model(x)
            loss = F.cross_entropy(out.float(), y)
            opt.zero_grad()
            scaler.scale(loss).backward()
            scaler.unscale_(opt)  # as before clipping; scaler.step would unscale itself otherwise
            norms = [float(model[j].weight.grad.norm()) for j in (0, 2, 4, 6)]
            if i != 20:
                expected.append(norms)
            else:
                assert not all(math.isfinite(n) for n in norms)
            scaler.step(opt)
            scaler.update()
            c.step(loss)
    with Store(tmp_path) as store:
        steps, _, values = grad_norms(store, c.run_id)
        assert len(steps) == 29  # the skipped update left no record (the next one may carry its number)
        np.testing.assert_allclose(values, np.array(expected), rtol=1e-4)  # unscaled, as the update used them
        assert steps[-1] == 30 and "non_finite" not in {f["code"] for f in store.findings(c.run_id)}
        assert store.get_run(c.run_id)["status"] == "completed"


def test_an_exception_fails_the_run_with_its_message_and_goes_on(tmp_path):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(RuntimeError, match="bad batch"):
        with gradclinic.watch(model, opt, home=tmp_path, quiet=True) as c:
            for i, (x, y) in enumerate(batches(10)):
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                c.step(loss)
                if i == 6:
                    raise RuntimeError("bad batch 7")
    with Store(tmp_path) as store:
        run = store.get_run(c.run_id)
        assert run["status"] == "failed" and run["error"].startswith("RuntimeError: bad batch 7")
        assert "Traceback" in run["error"] and run["summary"]["steps"] == 7
    assert not opt._optimizer_step_pre_hooks and not model._forward_pre_hooks  # every hook is off


def test_ctrl_c_stops_the_run_and_a_stop_from_the_dashboard_ends_the_loop(tmp_path):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(KeyboardInterrupt):
        with gradclinic.watch(model, opt, home=tmp_path, quiet=True) as c:
            for i, (x, y) in enumerate(batches(5)):
                c.step(F.cross_entropy(model(x), y))
                if i == 3:
                    raise KeyboardInterrupt
    assert c.status == "stopped"

    after = []
    with gradclinic.watch(model, opt, home=tmp_path, quiet=True) as c2:
        for i, (x, y) in enumerate(batches(10_000)):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            c2.step(loss)
            if i == 5:
                with Store(tmp_path) as dashboard:
                    lifecycle.stop(dashboard, c2.run_id)  # the Live page's Stop: honoured at the next flush
        after.append("never")  # StopTraining ends the loop: this line is not reached
    after.append("after the block")
    assert after == ["after the block"] and c2.status == "stopped" and c2.should_stop
    with Store(tmp_path) as store:
        assert store.get_run(c2.run_id)["status"] == "stopped" and store.get_run(c2.run_id)["step"] < 5000


def test_a_non_finite_loss_ends_the_run_diverged(tmp_path):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    n = 0
    with gradclinic.watch(model, opt, home=tmp_path, quiet=True) as c:
        for i, (x, y) in enumerate(batches(10_000)):
            loss = F.cross_entropy(model(x), y) * (math.inf if i >= 12 else 1.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            c.step(loss)
            n += 1
    assert c.status == "diverged" and n < 10_000
    with Store(tmp_path) as store:
        assert "non_finite" in {f["code"] for f in store.findings(c.run_id)}
        assert store.get_run(c.run_id)["status"] == "diverged"


def test_refusals(tmp_path):
    model = mlp()
    with pytest.raises(ValueError, match="LBFGS is not supported"):
        gradclinic.watch(model, torch.optim.LBFGS(model.parameters()), home=tmp_path)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        gradclinic.watch(lambda x: x, torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(TypeError, match="torch.optim.Optimizer"):
        gradclinic.watch(model, object())
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with gradclinic.watch(model, opt, home=tmp_path, quiet=True) as c:
        with pytest.raises(RuntimeError, match="already being watched"):
            gradclinic.watch(model, opt, home=tmp_path).__enter__()
        with pytest.raises(ValueError, match="scalar loss"):
            c.step(torch.ones(3))
    with pytest.raises(RuntimeError, match="after the watch ended"):
        c.step(1.0)


def test_the_init_and_the_activation_are_inferred_from_the_modules():
    def init(fn):
        layer = nn.Linear(64, 64)
        fn(layer.weight)
        return facts.layer_init(layer.weight)

    assert facts.layer_init(nn.Linear(64, 64).weight) == "default"
    assert init(lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")) == "he_normal"
    assert init(lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu")) == "he_uniform"
    assert init(nn.init.xavier_uniform_) == "xavier_uniform"
    assert init(lambda w: nn.init.normal_(w, std=0.5)) is None  # no init we know: the rules hear "unknown"
    assert facts.arch_kind(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())) == "cnn"
    from engine.watch.adapter import family_of

    assert [family_of(m) for m in (nn.Sigmoid(), nn.ReLU(), nn.GELU(), nn.Softsign(), nn.Linear(2, 2))] == [
        "saturating",
        "relu",
        "smooth",
        "saturating",
        None,
    ]


def test_a_dead_process_reads_as_crashed(tmp_path):
    """The run's pid is the user's process: when it dies mid-run, the reaper marks the run crashed."""
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {ROOT!r})
        import torch, torch.nn as nn, torch.nn.functional as F
        import gradclinic
        torch.set_num_threads(1)
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        with gradclinic.watch(model, opt, home={str(tmp_path)!r}, quiet=True) as c:
            for i in range(30):
                x, y = torch.randn(16, 8), torch.randint(0, 3, (16,))
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad(); loss.backward(); opt.step(); c.step(loss)
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    with Store(tmp_path) as store:
        run_id = store.list_runs()["id"][0]
        assert store.get_run(run_id)["status"] == "running"  # as the process left it
        assert lifecycle.status(store, run_id)["status"] == "crashed"  # as any reader sees it, and the reaper marks it
        assert store.get_run(run_id)["status"] == "crashed"
        assert len(store.layer_matrix(run_id, "grad_norm")[0]) > 0  # what it flushed stays readable


def test_gradclinic_imports_nothing_heavy():
    code = "import sys, gradclinic; print('torch' in sys.modules, callable(gradclinic.watch))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=60)
    assert out.stdout.split() == ["False", "True"], out.stderr[-2000:]


def test_stop_training_is_exported():
    assert gradclinic.StopTraining is StopTraining


def test_nothing_kills_or_resumes_a_watched_runs_process(tmp_path):
    """A watched run's pid is the user's own process: a silent heartbeat and a forced stop leave it alone."""
    from engine.control import watched as w

    user = subprocess.Popen(["sleep", "60"], start_new_session=True)  # stands in for the user's script
    try:
        with Store(tmp_path) as store:
            recipe = w.stored_recipe({"model_class": "m.Net"}, steps=None, batch_size=8, budget=0.05)
            run_id = store.create_run(recipe, name="mine", status="running")
            store.update_run(run_id, pid=user.pid, heartbeat=0.0)  # silent for decades: a worker would be hung
            assert queue.reap(store) == []
            assert lifecycle.enforce_stop(store, run_id, grace=0.2) == "running"
            assert user.poll() is None and store.get_run(run_id)["stop_requested"]
            store.set_status(run_id, "stopped")
            with pytest.raises(ValueError, match="run its script again"):
                lifecycle.resume(store, run_id)
    finally:
        user.kill()
        user.wait()
