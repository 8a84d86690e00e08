"""Start runs from a warm process that has imported torch once. Torch-free (the client side).

Importing torch and the training side costs a worker 3–5 s on a small CPU machine,
before its first step: most of the wait between Launch and the first point. The
fork server (:mod:`engine.forkserver`, ``python -m engine.forkserver``) pays that
once, then forks one worker per run on request. A forked run is still an OS process
of its own: its own session and process group, the run's ``worker.log`` as its
output, the requester's environment, and nothing shared with the server after the
fork, so a crash takes only that run down, exactly as with a cold start.

One server serves every store of one user and one version of the code: its socket
lives in a private directory (``$GRADCLINIC_WARM_DIR``, else the user's runtime
directory) and is named after the code's version, so an edited checkout never runs
stale code. It exits by itself after :data:`IDLE_S` without a request, or when its
socket is removed. ``$GRADCLINIC_WARM=0`` turns the whole thing off (every run then
starts cold, as a fresh ``python -m engine.worker``).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
IDLE_S = 15 * 60.0  # the server exits after this long without a request
CONNECT_S = 0.5  # a server that does not accept within this is treated as absent
REPLY_S = 5.0  # how long a request waits for the forked worker's pid


def enabled() -> bool:
    """False when ``$GRADCLINIC_WARM`` is ``0``/``false``/``off``: every run starts cold."""
    return os.environ.get("GRADCLINIC_WARM", "1").strip().lower() not in ("0", "false", "off", "no")


def code_version() -> str:
    """A short hash of the interpreter, the checkout and its engine sources' names, sizes and times.

    A server answers only requests of its own version, so code edited after it started
    (or another checkout, or another venv) never trains in it.
    """
    # PYTHONPATH too: it decides what loads at interpreter start (sitecustomize), which a fork never re-runs.
    h = hashlib.sha1(f"{sys.executable}\0{ROOT}\0{os.environ.get('PYTHONPATH', '')}".encode())
    for path in sorted((ROOT / "engine").rglob("*.py")):
        st = path.stat()
        h.update(f"{path.relative_to(ROOT)}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return h.hexdigest()[:12]


def warm_dir() -> Path:
    """The private directory of this user's fork servers (mode 0700), created when missing."""
    env = os.environ.get("GRADCLINIC_WARM_DIR")
    if env:
        base = Path(env)
    else:
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        base = Path(runtime) / "gradclinic" if runtime else Path(tempfile.gettempdir()) / f"gradclinic-{os.getuid()}"
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = base.stat()
    if st.st_uid != os.getuid() or st.st_mode & 0o077:  # another user's, or readable by others: never ours
        raise PermissionError(f"{base}: not a private directory of this user")
    return base


def socket_path(version: str | None = None) -> Path:
    """Where the server of this code version listens (short: a Unix socket path is limited to ~100 bytes)."""
    return warm_dir() / f"w-{version or code_version()}.sock"


def request(run_id: str, log: Path, env: dict[str, str]) -> int | None:
    """Ask the warm server to fork the worker of ``run_id`` with environment ``env``; its pid, or None.

    None means nothing was started, and the caller starts the run cold. Once the request
    is sent, a server that does not answer has probably forked already: then the worker
    records its own pid as it starts, and no second worker is started (the returned pid is 0).
    """
    if not enabled():
        return None
    try:
        path = socket_path()
    except OSError:
        return None
    if not path.exists():
        return None
    payload = {"run_id": run_id, "log": str(log), "cwd": str(ROOT), "env": dict(env)}
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_S)
        try:
            sock.connect(str(path))
            sock.sendall(json.dumps(payload).encode() + b"\n")
        except OSError:
            return None  # nothing reached a server: start cold
        sock.settimeout(REPLY_S)
        try:
            reply = json.loads(_read_line(sock) or b"{}")
        except (OSError, ValueError):
            return 0  # sent but unanswered: the worker, if forked, records its own pid
        pid = reply.get("pid")
        return int(pid) if isinstance(pid, int) and pid > 0 else None
    finally:
        sock.close()


def _read_line(sock: socket.socket, limit: int = 4096) -> bytes:
    data = b""
    while b"\n" not in data and len(data) < limit:
        chunk = sock.recv(256)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]


def ensure_started() -> int | None:
    """Start this code version's fork server in the background unless one runs; its pid, or None.

    It takes a few seconds to import torch, so the run that found no server starts cold,
    and the next ones start warm. Two callers racing here start two servers; the second
    finds the first's lock and exits at once.
    """
    if not enabled():
        return None
    try:
        version = code_version()
        path = socket_path(version)
    except OSError:
        return None
    if path.exists() and _answers(path):
        return None
    log = path.with_suffix(".log")
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine.forkserver", str(path)],
            cwd=str(ROOT),
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # like a worker: no terminal's Ctrl-C or Streamlit rerun reaches it
        )
    path.with_suffix(".pid").write_text(str(proc.pid))  # known at once, so it can be stopped while it warms up
    return proc.pid


def wait_ready(timeout_s: float, path: Path | None = None) -> bool:
    """Wait up to ``timeout_s`` for the server at ``path`` (this version's by default) to answer; True once it does.

    For tests and benchmarks that must measure warm starts, not the first cold one.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        if _answers(path or socket_path()):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def _answers(path: Path) -> bool:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_S)
        sock.connect(str(path))
        sock.sendall(b'{"ping": true}\n')
        return json.loads(_read_line(sock) or b"{}").get("pong") is True
    except (OSError, ValueError):
        return False
    finally:
        sock.close()


def server_pid() -> int | None:
    """The pid of this code version's running fork server, or None (for tests and ``gradclinic doctor``)."""
    try:
        pid_file = socket_path().with_suffix(".pid")
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid
