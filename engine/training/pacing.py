"""Pause and slow motion for one run: waits between steps that no measurement of the run counts.

The recorder reads the run's controls at each flush (:meth:`engine.store.Store.control`)
and hands them to its :class:`Pacer`, then lets it wait after the step. A wait sits
between two steps, after the probe manager has timed the step, so the probe budget
never sees it; the recorder subtracts :attr:`Pacer.waited_s` from the time
``samples_per_s`` divides by. Nothing the step computes depends on the wall clock,
so a run trains the same numbers at its seed with or without waits.

While paused it polls the run's row every :data:`POLL_S` (a read, which answers
while another process holds the write lock), so continue and stop are seen within
a fraction of a second, and beats the heartbeat every :data:`BEAT_S` for a run
that has no heartbeat thread (``gradclinic run`` in the foreground).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.config.errors import StoreError

if TYPE_CHECKING:
    from engine.store import Store
    from engine.store.store import RunControl

log = logging.getLogger("gradclinic.pacing")
POLL_S = 0.1  # how often a paused run looks whether it may go on
BEAT_S = 1.0  # how often a paused run says it is alive


class Pacer:
    """The waits of one run: slow motion after every step, and a pause until told to go on.

    ``read`` returns the run's current controls; ``beat`` records that the run is alive
    (a failing beat is skipped: the next one may pass).
    """

    def __init__(self, read: Callable[[], RunControl], beat: Callable[[], None] | None = None):
        self.read, self.beat = read, beat
        self.paused = False
        self.pace_s = 0.0
        self.waited_s = 0.0  # every wait so far, paused or slowed
        self.paused_s = 0.0  # the paused part of it

    @classmethod
    def for_run(cls, store: Store, run_id: str) -> Pacer:
        """A pacer reading ``run_id``'s controls from ``store``; its beats wait little for the write lock."""

        def beat() -> None:
            with store.lock_wait(POLL_S):
                store.heartbeat(run_id)

        return cls(lambda: store.control(run_id), beat)

    @property
    def active(self) -> bool:
        """True when the next :meth:`wait` waits at all (the per-step cost otherwise: this check)."""
        return self.paused or self.pace_s > 0

    def update(self, control: RunControl) -> None:
        """Take the controls read at a flush."""
        self.paused = control.paused
        self.pace_s = control.pace_ms / 1000.0

    def wait(self, stop: Callable[[], None]) -> float:
        """Wait as the controls say, between two steps; returns the seconds paused (0 if not).

        A stop asked for while paused calls ``stop`` and ends the wait.
        """
        t0 = time.perf_counter()
        if self.pace_s > 0:
            time.sleep(self.pace_s)
        paused = 0.0
        if self.paused:
            p0 = last_beat = time.perf_counter()
            while True:
                time.sleep(POLL_S)
                control = self.read()
                if control.stop:
                    stop()
                    break
                self.update(control)
                if not control.paused:
                    break
                if self.beat is not None and time.perf_counter() - last_beat >= BEAT_S:
                    last_beat = time.perf_counter()
                    try:
                        self.beat()
                    except StoreError as exc:  # locked or full: the heartbeat thread (if any) beats too
                        log.debug("heartbeat while paused skipped: %s", exc)
            paused = time.perf_counter() - p0
            self.paused, self.paused_s = False, self.paused_s + paused
        self.waited_s += time.perf_counter() - t0
        return paused
