"""A remote trial's store: a local :class:`Store` whose writes are also sent to the driver, and their replay.

A trial on a Ray worker trains exactly as a local run does (session, recorder,
probes, diagnosis), so it gets a real store on the worker's own disk: the
diagnosis re-reads what the recorder wrote at each evaluation, and a store that
only forwarded would have nothing to read. Every write that makes up the run
is also sent to the driver as a numbered call, ``(seq, method, args, kwargs)``,
and the driver replays it into the one real store under the same run id
(:func:`replay`): the SQLite file never leaves the driver's disk. What the run
is asked (stop, prune, pause, pace) comes the other way: :meth:`MirrorStore.control`
answers from the driver's copy of the row.

Torch-free and Ray-free: the transport is the two callables given to
:class:`MirrorStore`, so this file is tested without either.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from engine.store import Store
from engine.store.store import RunControl

log = logging.getLogger(__name__)

#: The Store writes a trial makes, sent to the driver and replayed there. One explicit list, because
#: it is also the whole of what the driver will run for a worker: a write left out stays on the worker
#: (the run in the real store would lack it), and a call for any other method is refused on replay.
#: ``create_run`` is missing on purpose: the driver creates the row before the trial starts.
FORWARDED = (
    "update_run",  # device and summary (pid stays the driver's, see replay)
    "set_status",
    "heartbeat",  # a paused run's beats
    "flush",  # the recorder's batches: scalars, layer statistics, events
    "add_event",
    "set_layers",
    "declare_stats",  # the only one without a run id: statistic scopes are store-wide
    "clear_findings",
    "add_findings",
)
Call = tuple[int, str, tuple, dict]  # (seq from 1, Store method, positional args, keyword args)


class MirrorStore(Store):
    """A store at ``home`` that also hands each :data:`FORWARDED` write to ``send`` and reads controls via ``read``.

    ``send(call)`` gets each write after it succeeded here (a write refused here is not sent);
    ``read()`` returns the driver's :class:`RunControl` for the trial, or None to use the local row.
    """

    def __init__(self, home: str | os.PathLike, send: Callable[[Call], None], read: Callable[[], RunControl | None]):
        super().__init__(home)
        self._send, self._read = send, read
        self.sent = 0
        self._depth = 0  # update_run(status=...) calls set_status: only the outer call travels

    def control(self, run_id: str) -> RunControl:
        remote = self._read()
        return remote if remote is not None else super().control(run_id)


def _forwarding(name: str) -> Callable[..., Any]:
    local = getattr(Store, name)

    def method(self: MirrorStore, *args: Any, **kwargs: Any) -> Any:
        self._depth += 1
        try:
            out = local(self, *args, **kwargs)
        finally:
            self._depth -= 1
        if self._depth == 0:
            self.sent += 1
            self._send((self.sent, name, args, kwargs))
        return out

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"{local.__doc__}\n\nAlso sent to the driver (:data:`FORWARDED`)."
    return method


for _name in FORWARDED:
    setattr(MirrorStore, _name, _forwarding(_name))


def replay(store: Store, run_id: str, calls: Iterable[Call], applied: int, pid: int | None = None) -> int:
    """Apply ``run_id``'s calls numbered past ``applied``, in order, to ``store``; returns the last one applied.

    Idempotent per call: a call already applied (its number at most ``applied``) is skipped, so a
    batch sent again (the mailbox keeps calls until the driver says it has them) writes nothing twice.
    A gap stops the replay until the missing call comes. A store error other than a busy lock
    (:class:`~engine.store.errors.StoreBusy` is raised, for the next try) skips that call: a run
    deleted from the dashboard takes no more writes. ``pid`` replaces the worker's pid, which
    means nothing on the driver's machine: the run's process there is the driver (``pid``).
    """
    from engine.config.errors import StoreError
    from engine.store.errors import StoreBusy

    for seq, name, args, kwargs in sorted(calls, key=lambda c: c[0]):
        if seq <= applied:
            continue
        if seq != applied + 1:
            break
        if name not in FORWARDED:
            raise ValueError(f"trial {run_id}: refused a call of Store.{name}; a trial may only call {FORWARDED}")
        if name != "declare_stats" and (not args or args[0] != run_id):
            raise ValueError(f"trial {run_id}: refused Store.{name} for another run ({args[:1]!r})")
        kwargs = dict(kwargs)
        kwargs.pop("wait_s", None)  # the worker's lock wait on its own store; the driver waits as it likes
        if name == "update_run" and "pid" in kwargs:
            kwargs.pop("pid")
            if pid is not None:
                kwargs["pid"] = pid
        try:
            if name != "update_run" or kwargs:
                getattr(store, name)(*args, **kwargs)
        except StoreBusy:
            raise
        except StoreError as exc:
            log.warning("trial %s: Store.%s not replayed: %s", run_id, name, exc)
        applied = seq
    return applied
