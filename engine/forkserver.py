"""``python -m engine.forkserver SOCKET``: import torch once, then fork one worker per run.

Started by :func:`engine.control.warm.ensure_started`; requests come from
:func:`engine.control.warm.request` (one JSON line: run id, log path, working
directory, environment). For each, the server forks; the child leaves the server
behind completely before it trains: a new session (its own process group, so
``Stop`` and a hung-run kill reach it alone), the run's log as stdout and stderr,
the requester's environment and directory, default signal handlers, and then the
ordinary :func:`engine.worker.main`. The server answers with the child's pid.

Why fork is safe here: the server never runs a torch operation, so no thread pool
(OpenMP, CUDA) exists to be lost in the child; it opens no store. It ignores
SIGCHLD, so the kernel reaps finished workers and none lingers as a zombie. It exits
after ``warm.IDLE_S`` without a request, when its socket file is removed or replaced,
or when a second server already holds the lock.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import select
import signal
import socket
import sys
import time
import traceback
from pathlib import Path

from engine.control import warm

log = logging.getLogger("gradclinic.forkserver")
SETSID_WAIT_S = 2.0  # a forked child calls setsid() within microseconds; this only bounds a stuck one


def preload() -> None:
    """Import what every worker needs, so that a forked worker starts at its first line of work."""
    import torch  # noqa: F401
    import torch._dynamo  # noqa: F401  (an optimizer's first step imports it: 3-4 s on a small CPU)
    import torch.optim  # noqa: F401

    import engine.diagnosis.diagnose  # noqa: F401
    import engine.worker  # noqa: F401
    from engine.config.names import ARCHITECTURES, DATASETS
    from engine.training import session  # noqa: F401

    for registry in (ARCHITECTURES, DATASETS):  # every architecture and dataset module, once
        for name in registry.names():
            registry.module(name)
    # What those modules import only when they run: scikit-learn alone is 2-3 s of a first step.
    import kornia.augmentation  # noqa: F401
    import scipy.stats  # noqa: F401
    import sklearn.datasets  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import sklearn.model_selection  # noqa: F401


def serve(path: Path) -> int:
    """Listen on ``path`` until idle for ``warm.IDLE_S`` or the socket is taken away; 0 on a clean exit."""
    lock = open(path.with_suffix(".lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        log.info("another fork server holds %s: exiting", path)
        return 0
    preload()
    path.unlink(missing_ok=True)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    os.chmod(path, 0o600)
    srv.listen(16)
    srv.settimeout(1.0)
    inode = path.stat().st_ino
    path.with_suffix(".pid").write_text(str(os.getpid()))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished workers
    log.info("fork server %d ready on %s", os.getpid(), path)
    last = time.monotonic()
    try:
        while time.monotonic() - last < warm.IDLE_S:
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                try:
                    if path.stat().st_ino != inode:
                        break  # replaced by a newer server
                except FileNotFoundError:
                    break  # removed: told to go
                continue
            last = time.monotonic()
            with conn:
                handle(conn, srv, lock)
    finally:
        srv.close()
        try:
            if path.stat().st_ino == inode:
                path.unlink()
        except FileNotFoundError:
            pass
        log.info("fork server %d exits", os.getpid())
    return 0


def handle(conn: socket.socket, srv: socket.socket, lock) -> None:
    """Answer one request: a ping, or fork the worker it names and reply with its pid."""
    conn.settimeout(2.0)
    try:
        req = json.loads(warm._read_line(conn, limit=1 << 20) or b"{}")
    except (OSError, ValueError) as exc:
        log.warning("bad request: %s", exc)
        return
    if req.get("ping"):
        conn.sendall(b'{"pong": true}\n')
        return
    run_id, log_file = str(req.get("run_id", "")), str(req.get("log", ""))
    if not run_id or not log_file:
        conn.sendall(b'{"error": "run_id and log are required"}\n')
        return
    sys.stdout.flush()
    sys.stderr.flush()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: never returns
        srv.close()
        lock.close()
        os.close(ready_r)
        code = 1
        try:
            conn.close()
            _become_worker(req, log_file, ready_w)
            from engine import worker

            code = worker.main([run_id])
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(ready_w)
    # The pid is answered only once the child leads its own session: whoever gets it may at once
    # signal its process group (Stop, a hung-run kill), which must not be the server's group.
    ready, _, _ = select.select([ready_r], [], [], SETSID_WAIT_S)
    if not ready or not os.read(ready_r, 1):
        log.warning("worker %d did not report its own session in %.0f s", pid, SETSID_WAIT_S)
    os.close(ready_r)
    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    log.info("forked worker %d for run %s", pid, run_id)


def _become_worker(req: dict, log_file: str, ready_fd: int) -> None:
    """Leave the server behind: own session, the run's log, the requester's env and cwd, default signals.

    One byte on ``ready_fd`` tells the server the session exists, so it can hand out the pid.
    """
    os.setsid()
    os.write(ready_fd, b"1")
    os.close(ready_fd)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    out = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    os.close(null)
    env = req.get("env")
    if isinstance(env, dict):
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in env.items()})
    os.chdir(str(req.get("cwd") or warm.ROOT))
    logging.root.handlers.clear()  # the worker configures its own logging onto the run's log
    sys.argv = [str(Path(warm.ROOT) / "engine" / "worker.py"), str(req["run_id"])]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m engine.forkserver SOCKET\n")
        return 2
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s [%(process)d] %(message)s"
    )
    return serve(Path(argv[0]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
