"""``gradclinic.watch``: the user's own training loop, probed on the budget and stored like a recipe run.

Two lines in any PyTorch loop::

    import gradclinic

    with gradclinic.watch(model, optimizer, name="my-run") as clinic:
        for x, y in loader:
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            clinic.step(loss)
        clinic.eval(val_loss=..., val_accuracy=...)  # optional, whenever the loop evaluates

The same probes on the same budget (:class:`~engine.training.probing.manager.ProbeManager`),
the same recorder and store (:class:`~engine.training.recorder.Recorder`), the same rules
(:func:`~engine.diagnosis.diagnose.diagnose_into_store`) and the same Live page as a recipe run.

**Where each statistic is measured.**

* A *step* is what the loop calls ``clinic.step(loss)`` for. That call records the loss and
  counts the step, nothing more (and, at a flush, obeys the dashboard's Stop, Pause and slow motion).
* Gradients and updates are measured *where the update is made*: in hooks on the optimizer
  (``register_step_pre_hook``, ``register_step_post_hook``), so they work with any optimizer. The
  pre-hook runs the gradient probes on exactly the gradients ``optimizer.step()`` is about to
  use: with gradient accumulation, the sum of the micro-batches; with clipping, the clipped
  gradient (what the update used: a clipped explosion shows as norms held at the threshold);
  with a ``GradScaler``, the unscaled gradient (``scaler.step`` unscales before it calls
  ``optimizer.step()``). The post-hook runs the update probes (``update_ratio``, ``weight_norm``)
  on the weights the update left. An optimizer stepped with a closure (``optimizer.step(closure)``,
  as Lightning steps it) runs the forward and backward inside the step: the gradient probes then
  run as the closure returns, still before the update.
* A ``GradScaler`` that finds Inf or NaN in the scaled gradients skips ``optimizer.step()``: the
  hooks do not run, and that step leaves no gradient record. Its overflow is the scaler at work,
  not a ``non_finite`` finding (as in a recipe run with ``train.amp``, whose recorder drops those records).
* The probe manager's events follow the updates. Its step (a *window*) runs from the first
  training forward after an update to the next update: ``before_step`` in a forward pre-hook
  on the model, before its forward runs (the activation hooks go on there, on the steps the
  schedule picks), ``after_forward`` and ``after_backward`` in the optimizer's pre-hook,
  ``after_step`` in its post-hook. So with accumulation the probes run once per optimizer step,
  and the activations are those of the window's first training forward (its first
  micro-batch); an evaluation's forward (``model.eval()`` or ``torch.no_grad()``) is never
  mixed in (:mod:`engine.watch.adapter`). The time the budget is measured against is the
  window's (forward, backward, update), never the loop's own work between steps: an
  evaluation or a checkpoint between two steps does not make the probes think the steps slow.
  A window's records carry the number of the step it began in: the update's own step when each
  step makes one (whether the loop calls ``clinic.step`` before or after ``optimizer.step()``);
  with accumulation, the first micro-batch's step; after an update a ``GradScaler`` skipped, the
  skipped step's (the window goes on into the next step).
* The first training forward shows the layers (:class:`~engine.watch.adapter.Discovery`): the
  run is created at the first ``clinic.step`` or update, whichever comes first, and step 1 has
  no activation record (its forward ran before the layers were known). The init is read from
  the weights when the watch starts, before any update (:mod:`engine.watch.facts`).
* Timing (the Live page's step-time bar, the ``input_bound`` rule): the time from an update to
  the next training forward is "waiting for data" (the loader, and the loop's own work between
  steps; a gap with an evaluation in it is left out, and so is the time inside ``clinic.step``);
  on the CPU, from that forward to the update is forward and backward, and the update is the
  optimizer's. With accumulation, the later micro-batches' loading counts as computing.

**The run.** It goes to the store the dashboard reads (``$GRADCLINIC_HOME``, else
``./.gradclinic``; or ``home=``), named ``name`` (else the script's name), with its recipe row
marked as watched (:mod:`engine.control.watched`): the facts inferred from the module and the
optimizer, and ``steps=`` as its planned steps when given (the Live page's progress bar; the
probes' floor of records, :func:`~engine.training.probing.planner.floor_interval`). Without it
the floor is that of :data:`DEFAULT_STEPS` steps at first and then of four times the steps taken
so far (each group has at least 25 records at any time), so a short loop has records enough for
the rules and a long one is probed on the budget.

It is ``running`` under this process's pid, then ``completed`` when the ``with`` block ends;
``stopped`` by the dashboard's Stop or Ctrl-C; ``diverged`` at a non-finite loss; ``failed``,
with the exception and its traceback, when one leaves the block (it is not swallowed);
``crashed`` when the process dies (the queue's reaper sees its pid gone). Nothing in the
dashboard kills that process, resumes or relaunches the run (:mod:`engine.control.watched`).

A Stop or a divergence ends the loop: the next ``clinic.step`` raises :class:`StopTraining`,
which the ``with`` block swallows, and the code after the block runs. The watch never breaks
training otherwise: a store problem (a full disk, the run deleted from the dashboard) or a
fault in the watch itself is logged once, recording stops, and the loop goes on.

Refused: ``torch.optim.LBFGS`` (its ``step(closure)`` runs forwards and backwards of its own
line search inside the update, so no hook can tell the update's gradient), and a model that is
no ``nn.Module`` or an optimizer that is no ``torch.optim.Optimizer``.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn as nn

from engine.config.errors import StoreError
from engine.config.metrics import headline
from engine.control import watched
from engine.diagnosis.diagnose import diagnose_into_store
from engine.store import Store
from engine.store.errors import StoreBusy
from engine.store.store import check_name
from engine.training.probing import planner
from engine.training.probing.manager import ProbeManager, load_probes
from engine.training.recorder import FLUSH_WAIT_S, Recorder
from engine.training.trainer import TrainState
from engine.watch import facts
from engine.watch.adapter import Discovery, WatchedModel

log = logging.getLogger("gradclinic.watch")

#: Without ``steps=``, the probes start with the floor of records of a run this long (at least every 10 steps);
#: the floor then follows the run: that of a run four times as long as it has been so far.
DEFAULT_STEPS = 1000
#: A loop that never calls clinic.eval is diagnosed this often (seconds), so its findings show while it trains.
DIAGNOSE_EVERY_S = 10.0
_ACTIVE: set[int] = set()  # id() of the optimizers being watched: one watch at a time each


class StopTraining(Exception):
    """Raised by ``clinic.step`` when the run must end (the dashboard's Stop, a non-finite loss).

    The ``with`` block swallows it: the loop ends there and the code after the block runs.
    """

    def __init__(self, reason: str, detail: dict[str, Any]):
        super().__init__(f"gradclinic: the run {reason} ({', '.join(f'{k} {v}' for k, v in detail.items())})")
        self.reason, self.detail = reason, detail


@dataclass
class _Train:
    """The few ``recipe.train`` values the recorder and the probes read."""

    batch_size: int = 0
    weight_decay: float = 0.0
    l1: float = 0.0
    amp: bool = False
    compile: bool = False
    channels_last: bool = False


@dataclass
class _Recipe:
    name: str = watched.RECIPE_NAME
    train: _Train = field(default_factory=_Train)
    compare: list = field(default_factory=list)


@dataclass
class _Data:
    """What the recorder's ``data`` event says of data the watch never sees: the task, and chance if given."""

    task: str = "classification"
    n_classes: int | None = None
    x_train: tuple = ()
    x_val: tuple = ()
    input_shape: tuple = ()

    @property
    def chance_accuracy(self) -> float | None:
        return 1.0 / self.n_classes if self.n_classes else None


def _training_forward(module: nn.Module) -> bool:
    return module.training and torch.is_grad_enabled()


def _script_name() -> str | None:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return Path(path).name if path else None


class Clinic:
    """One watched run: use it as ``with gradclinic.watch(model, optimizer) as clinic:`` (see the module docstring)."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        name: str | None = None,
        home: str | os.PathLike | None = None,
        steps: int | None = None,
        budget: float = 0.05,
        classes: int | None = None,
        intervals: dict[str, int] | None = None,
        quiet: bool = False,
    ):
        if not isinstance(model, nn.Module):
            raise TypeError(f"gradclinic.watch: model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"gradclinic.watch: optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        if isinstance(optimizer, torch.optim.LBFGS):
            raise ValueError(
                "gradclinic.watch: LBFGS is not supported: its step(closure) runs the forward and backward passes "
                "of its line search inside the update, so no probe can tell which gradient the update used. "
                "Use a first-order optimizer (SGD, Adam, ...) to watch the run."
            )
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
            raise ValueError(f"gradclinic.watch: steps must be a whole number >= 1 (the planned steps), got {steps!r}")
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not 0.0 < budget <= 1.0:
            raise ValueError(f"gradclinic.watch: budget must be a share of step time in (0, 1], got {budget!r}")
        if classes is not None and (isinstance(classes, bool) or not isinstance(classes, int) or classes < 2):
            raise ValueError(f"gradclinic.watch: classes must be a whole number >= 2, got {classes!r}")
        self.model, self.optimizer = model, optimizer
        self.name = check_name(name)
        self.home = Path(home) if home is not None else None
        self.steps, self.budget, self.classes = steps, float(budget), classes
        self.intervals = dict(intervals or {})
        self.quiet = quiet
        self.run_id: str | None = None
        self.status: str | None = None  # the final status, once the block has ended
        self.store: Store | None = None
        self._entered = self._ended = self._started = self._dead = False
        self._done = 0  # steps completed (clinic.step calls)
        self._window = 0  # the probe manager's current step
        self._floor_steps = DEFAULT_STEPS  # the run length the probes' floor is that of (without steps=)
        self._window_open = False  # begun at the first training forward after an update, ended by the next update
        self._pending_evals: list[dict[str, float]] = []
        self._best: tuple[float, int | None] = (math.inf, None)
        self._handles: list[Any] = []
        self._seen: Discovery | None = None
        self._inits: dict[int, str | None] = {}
        self._t0 = time.perf_counter()
        self._last_diagnose = self._last_eval = time.perf_counter()
        self._diagnose_every = DIAGNOSE_EVERY_S
        # timing: see the module docstring
        self._gap_start: float | None = None
        self._gap_clean = True
        self._gap_excluded = 0.0
        self._t_forward: float | None = None
        self._t_update: float | None = None
        p = next(model.parameters(), None)
        self.device = p.device if p is not None else torch.device("cpu")
        self._timed = self.device.type == "cpu"
        self.state: TrainState | None = None
        self.probes: ProbeManager | None = None
        self.recorder: Recorder | None = None

    # --- the with block -------------------------------------------------------

    def __enter__(self) -> Clinic:
        if self._entered:
            raise RuntimeError("gradclinic.watch: this watch was already used; call gradclinic.watch again")
        if id(self.optimizer) in _ACTIVE:
            raise RuntimeError("gradclinic.watch: this optimizer is already being watched (one watch at a time)")
        self._entered = True
        _ACTIVE.add(id(self.optimizer))
        self._inits = facts.weight_inits(self.model)  # before any update: the init as the model was built
        self._seen = Discovery(self.model)
        self._handles = [
            self.model.register_forward_pre_hook(self._on_forward),
            self.optimizer.register_step_pre_hook(self._before_update),
            self.optimizer.register_step_post_hook(self._after_update),
        ]
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        stopped = exc_type is not None and issubclass(exc_type, StopTraining)
        self._close(None if stopped else exc)
        return stopped

    def close(self) -> None:
        """End the run as completed (or as its stop said): for code that does not use ``with``."""
        self._close(None)

    # --- the loop's calls -----------------------------------------------------

    def step(self, loss: Any) -> None:
        """Record this step's training loss (a scalar tensor or a number) and count the step.

        Raises :class:`StopTraining` (which the ``with`` block swallows) when the run must end.
        """
        self._check_open("step")
        t0 = time.perf_counter()
        value = _as_loss(loss)
        if not self._dead:
            try:
                self._start()  # before counting: this step's update (if it comes after) is in the first window
            except Exception as exc:
                self._detach(exc)
        self._done += 1
        if not self._dead:
            try:
                s = self._state()
                s.step = self._done
                s.loss = value
                self._rec().after_step(s)
                s.step = self._window
                self._maybe_diagnose()
                if self.steps is None and 4 * self._done > self._floor_steps:
                    self._floor_steps *= 2  # a run of unknown length: its floor follows it (see DEFAULT_STEPS)
                    self._mgr().floor = planner.floor_interval(self._floor_steps)
            except Exception as exc:  # never break the user's loop: log it, stop recording
                self._detach(exc)
        self._exclude(time.perf_counter() - t0)
        if not self._dead and self.state is not None and self.state.stop_reason is not None:
            raise StopTraining(self.state.stop_reason, dict(self.state.stop_detail))

    def eval(self, **metrics: Any) -> None:
        """Record an evaluation's numbers at the current step: ``val_loss``, ``val_accuracy``, ``train_accuracy``...

        Each value is a number or a one-element tensor. A non-finite ``val_loss`` ends the run
        as diverged at the next ``clinic.step``.
        """
        self._check_open("eval")
        values = {str(k): _as_number(k, v) for k, v in metrics.items()}
        if not values:
            raise ValueError("gradclinic: clinic.eval() needs at least one metric, e.g. clinic.eval(val_loss=0.31)")
        t0 = time.perf_counter()
        self._gap_clean = False  # an evaluation ran in this gap: it is no wait for data
        if self._dead:
            return
        try:
            if not self._started:
                self._pending_evals.append(values)  # before the first step: recorded at step 0 once the run exists
            else:
                self._record_eval(values)
        except Exception as exc:
            self._detach(exc)
        self._exclude(time.perf_counter() - t0)

    @property
    def should_stop(self) -> bool:
        """True once the run must end (the dashboard's Stop, a non-finite loss): for loops that check."""
        return self.state is not None and self.state.stop_reason is not None

    def findings(self) -> list[dict]:
        """The run's findings as stored (most severe first); empty before the run exists."""
        if self.run_id is None:
            return []
        with Store(self.home) as store:
            return store.findings(self.run_id)

    # --- the run --------------------------------------------------------------

    def _state(self) -> TrainState:
        assert self.state is not None
        return self.state

    def _rec(self) -> Recorder:
        assert self.recorder is not None
        return self.recorder

    def _mgr(self) -> ProbeManager:
        assert self.probes is not None
        return self.probes

    def _check_open(self, what: str) -> None:
        if not self._entered:
            raise RuntimeError(f"gradclinic: call clinic.{what}() inside `with gradclinic.watch(...) as clinic:`")
        if self._ended:
            raise RuntimeError(f"gradclinic: clinic.{what}() after the watch ended")

    def _start(self) -> None:
        """At the first step or update: the layers are known; create the run and start the probes."""
        if self._started:
            return
        self._started = True
        seen = self._seen
        assert seen is not None
        seen.remove()
        view = WatchedModel(self.model, self.optimizer, seen)
        found = facts.recipe_facts(self.model, self.optimizer, view, facts.model_init(view, self._inits))
        batch = seen.batch_size
        recipe = watched.stored_recipe(
            found, steps=self.steps, batch_size=batch, budget=self.budget, script=_script_name()
        )
        store = self.store = Store(self.home)
        name = self.name or (Path(_script_name() or "").stem or type(self.model).__name__)
        run_id = self.run_id = store.create_run(recipe, name=name, total_steps=self.steps, status="running")
        # A reaper that read the row before its pid was written may have marked it crashed: undo that.
        store.update_run(run_id, pid=os.getpid(), device=str(self.device), error=None, ended=None)
        store.set_status(run_id, "running")
        self._note(f"watching {found['description']} in process {os.getpid()}")
        train = _Train(batch_size=batch or 0, weight_decay=float(found["weight_decay"] or 0.0))
        pseudo = _Recipe(train=train)
        wanted = load_probes(recipe=pseudo)  # type: ignore[arg-type]  # the fields the probes' wanted() read
        self.probes = ProbeManager(
            view,  # type: ignore[arg-type]  # the ClinicModel contract: param_layers, activation_layers
            self.budget,
            self.intervals,
            wanted,
            steps=self.steps or DEFAULT_STEPS,
        )
        self.recorder = Recorder(store, run_id, self.probes, diagnose=diagnose_into_store)
        self.state = TrainState(
            cast(Any, pseudo),
            cast(Any, _Data(n_classes=self.classes)),
            cast(Any, view),
            self.optimizer,
            None,
            self.device,
        )
        self.recorder.before_fit(self.state)
        for values in self._pending_evals:
            self._record_eval(values)
        self._pending_evals = []
        self._begin_window()  # the first forward has run: this window's activations are lost
        if not self.quiet:
            where = store.home.expanduser().resolve()
            sys.stderr.write(
                f"gradclinic: run {run_id} ({name}) -> {where}; see it live with `gradclinic ui`"
                f"{'' if os.environ.get('GRADCLINIC_HOME') else f' --home {where}'}\n"
            )

    def _record_eval(self, values: dict[str, float]) -> None:
        s = self._state()
        s.step = self._done
        s.metrics = dict(values)
        val = values.get("val_loss")
        if val is not None and not math.isfinite(val):
            s.request_stop("diverged", step=s.step, what="val_loss")
        elif val is not None and val < self._best[0]:
            self._best = (val, s.step)
        self._rec().after_eval(s)
        self._last_eval = time.perf_counter()
        s.step = self._window
        self._mgr().after_eval(s)

    def _maybe_diagnose(self) -> None:
        """Diagnose a loop that never calls clinic.eval every DIAGNOSE_EVERY_S (the recorder does at evaluations)."""
        now = time.perf_counter()
        if now - max(self._last_diagnose, self._last_eval) < self._diagnose_every:
            return
        assert self.store is not None and self.run_id is not None
        try:
            with self.store.lock_wait(FLUSH_WAIT_S):
                diagnose_into_store(self.store, self.run_id)
        except StoreBusy:
            pass  # another process writes: the next try, or the end of the run, diagnoses
        self._last_diagnose = time.perf_counter()
        # A long run's diagnosis reads more rows: it waits long enough to stay under 2% of the loop's time.
        self._diagnose_every = max(DIAGNOSE_EVERY_S, 50.0 * (self._last_diagnose - now))

    def _begin_window(self) -> None:
        """The probe manager's next step: the step in progress (its hooks go on now, before the forward runs)."""
        s = self._state()
        self._window = max(self._done + 1, self._window + 1)
        self._window_open = True
        s.step = self._window
        self._mgr().before_step(s)

    def _exclude(self, seconds: float) -> None:
        """Time inside clinic.step / clinic.eval is the loop's own work: neither a wait for data nor computing."""
        if self._gap_start is not None:
            self._gap_excluded += seconds
        elif self._t_forward is not None:
            self._t_forward += seconds

    # --- hooks: the model's forward and the optimizer's step ---------------------

    def _on_forward(self, module: nn.Module, args: Any) -> None:
        if not _training_forward(module):
            self._gap_clean = False
            return
        if self._dead or self.state is None:
            return
        now = time.perf_counter()
        if not self._window_open:
            try:
                self._begin_window()
            except Exception as exc:
                self._detach(exc)
                return
        if self._gap_start is not None:
            if self._gap_clean:
                self.state.data_wait_s += max(0.0, now - self._gap_start - self._gap_excluded)
            self._gap_start = None
        if self._t_forward is None:
            self._t_forward = now

    def _before_update(self, optimizer: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
        if self._dead:
            return None
        closure = kwargs.get("closure") if "closure" in kwargs else args[1] if len(args) > 1 else None
        if not callable(closure):
            self._probe_update()
            return None
        # step(closure) (Lightning steps so): the forward and backward run inside the step, so the gradient
        # probes run when the closure returns, before the update. The activation hooks go on first.
        try:
            if self._started and not self._window_open:
                self._begin_window()
        except Exception as exc:
            self._detach(exc)
            return None
        ran = False

        def probed(*a: Any, **k: Any) -> Any:
            nonlocal ran
            out = closure(*a, **k)
            if not ran:
                ran = True
                self._probe_update()
            return out

        if "closure" in kwargs:
            return args, {**kwargs, "closure": probed}
        return (args[0], probed, *args[2:]), kwargs

    def _probe_update(self) -> None:
        """The gradient probes on the gradients the update is about to use (see the module docstring)."""
        if self._dead:
            return
        try:
            now = time.perf_counter()
            self._start()
            if not self._window_open:  # no forward of the model itself was seen (the loop calls its parts)
                self._begin_window()
            s = self._state()
            if self._timed and self._t_forward is not None:
                s.compute_s += now - self._t_forward
            self._t_forward = None
            mgr = self._mgr()
            mgr.after_forward(s)
            mgr.after_backward(s)
            self._t_update = time.perf_counter()
        except Exception as exc:
            self._detach(exc)

    def _after_update(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if self._dead or self.state is None:
            return
        try:
            s = self.state
            if self._timed and self._t_update is not None:
                s.optimizer_s += time.perf_counter() - self._t_update
            self._t_update = None
            self._mgr().after_step(s)
            self._window_open = False
            self._gap_start, self._gap_clean, self._gap_excluded = time.perf_counter(), True, 0.0
        except Exception as exc:
            self._detach(exc)

    # --- the end --------------------------------------------------------------

    def _remove_hooks(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        if self._seen is not None:
            self._seen.remove()
        if self.probes is not None:
            self.probes.close()
        _ACTIVE.discard(id(self.optimizer))

    def _detach(self, exc: BaseException) -> None:
        """Stop recording after a store problem or a fault in the watch; training goes on."""
        self._dead = True
        self._remove_hooks()
        what = str(exc) if isinstance(exc, StoreError) else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, StoreError):
            log.warning("gradclinic: recording stopped (training goes on): %s", what)
        else:
            log.error("gradclinic: recording stopped (training goes on)", exc_info=exc)
        if self.store is not None and self.run_id is not None:
            try:
                self.store.set_status(self.run_id, "failed", error=f"the watch stopped recording: {what}")
            except StoreError:
                pass  # the store is what failed (or the run was deleted)

    def _close(self, exc: BaseException | None) -> None:
        if self._ended or not self._entered:
            return
        self._ended = True
        self._remove_hooks()
        if self._dead:
            self.status = "failed"
            self._close_store()
            return
        if not self._started:
            if exc is None:
                if not self.quiet:
                    sys.stderr.write("gradclinic: no clinic.step() was called, so nothing was stored\n")
                return
            try:
                self._start()  # a loop that failed before its first step is a failed run worth seeing
            except Exception:
                log.exception("gradclinic: the failed run could not be recorded")
                self._close_store()
                return
        s = self._state()
        s.step = self._done
        error = None
        if isinstance(exc, KeyboardInterrupt):
            s.request_stop("stopped", step=self._done, what="interrupted")
        elif exc is not None:
            error = f"{type(exc).__name__}: {exc}\n{''.join(traceback.format_exception(exc, limit=8))}"
        status = "failed" if error is not None else (s.stop_reason or "completed")
        self.status = status
        try:
            assert self.store is not None and self.run_id is not None
            self._finish(self.store, self.run_id, s, status, error)
        except StoreError as e:  # a full disk, the run deleted meanwhile: the user's exception (if any) goes on
            log.warning("gradclinic: the run's end could not be stored: %s", e)
        finally:
            self._close_store()

    def _finish(self, store: Store, run_id: str, s: TrainState, status: str, error: str | None) -> None:
        rec = self._rec()
        rec.after_fit(s)  # the last flush waits for the lock
        findings = diagnose_into_store(store, run_id)
        if status == "diverged":
            store.add_event(run_id, s.stop_detail.get("step", s.step), "diverged", s.stop_detail)
        task = "classification"
        final: dict[str, Any] = {"train_loss": _finite(rec.last_loss), "val_loss": _finite(s.metrics.get("val_loss"))}
        head = headline(s.metrics, task)
        final[head.name] = _finite(s.metrics.get(head.name))
        for key, value in s.metrics.items():
            if key not in final and not key.startswith("train_"):
                final[key] = _finite(value)
        summary = {
            "run_id": run_id,
            "recipe": watched.RECIPE_NAME,
            "status": status,
            "steps": self._done,
            "seconds": round(time.perf_counter() - self._t0, 3),
            "device": str(self.device),
            "final": final,
            "best": {"val_loss": _finite(self._best[0]), "step": self._best[1]},
            "findings": findings,
        }
        store.update_run(run_id, summary=summary, step=self._done)
        store.set_status(run_id, status, error=error)
        self._note(f"ended {status}" + (f": {error}" if error else ""))
        if not self.quiet:
            codes = ", ".join(f["code"] for f in findings) or "no findings"
            sys.stderr.write(f"gradclinic: run {run_id} {status} after {self._done} steps: {codes}\n")

    def _close_store(self) -> None:
        if self.store is not None:
            self.store.close()

    def _note(self, line: str) -> None:
        """A line in the run's log (the file the Live page names for a failed run)."""
        if self.store is None or self.run_id is None:
            return
        try:
            with open(self.store.runs_dir(self.run_id) / "worker.log", "a", encoding="utf-8") as f:
                f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} gradclinic.watch [{os.getpid()}] {line}\n")
        except (OSError, StoreError):
            pass


def _finite(x: Any) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


def _as_loss(loss: Any) -> torch.Tensor:
    if isinstance(loss, torch.Tensor):
        if loss.ndim == 0:
            return loss.detach()
        if loss.numel() != 1:
            raise ValueError(
                f"gradclinic: clinic.step(loss) takes a scalar loss, got a tensor of shape {tuple(loss.shape)}"
            )
        return loss.detach().reshape(())
    if isinstance(loss, (int, float)) and not isinstance(loss, bool):
        return torch.tensor(float(loss))
    raise TypeError(f"gradclinic: clinic.step(loss) takes a scalar tensor or a number, got {type(loss).__name__}")


def _as_number(key: str, value: Any) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.detach())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(
        f"gradclinic: clinic.eval({key}=...) takes a number or a one-element tensor, got {type(value).__name__}"
    )


def watch(model: nn.Module, optimizer: torch.optim.Optimizer, **options: Any) -> Clinic:
    """Watch ``model`` trained by ``optimizer`` in your own loop; see :class:`Clinic` for ``options``."""
    return Clinic(model, optimizer, **options)
