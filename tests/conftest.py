"""Session-wide test setup: one private warm fork server for the whole test run, stopped at its end.

Workers started by tests (and by the app servers the browser tests start, which inherit
this environment) are forked by that server, so each pays for importing torch once per
test session rather than once per run; the server is this session's own process,
stopped here by its pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def private_warm_server():
    """A fork-server directory of this test session's own (its socket, lock, log and pid file)."""
    folder = Path(tempfile.mkdtemp(prefix="gc-warm-"))
    old = os.environ.get("GRADCLINIC_WARM_DIR")
    os.environ["GRADCLINIC_WARM_DIR"] = str(folder)
    try:
        yield folder
    finally:
        for pid_file in folder.glob("w-*.pid"):
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
            except (OSError, ValueError):
                pass  # already gone (idle exit), or never fully started
        if old is None:
            os.environ.pop("GRADCLINIC_WARM_DIR", None)
        else:
            os.environ["GRADCLINIC_WARM_DIR"] = old
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def warm_server(private_warm_server):
    """That fork server, started and answering: runs launched now start warm, not cold."""
    from engine.control import warm

    os.environ.pop("GRADCLINIC_WARM", None)
    warm.ensure_started()
    assert warm.wait_ready(120), "the test session's fork server did not answer within 120 s"
    return private_warm_server


@pytest.fixture
def one_thread():
    """One torch thread for a test that trains in-process: two on a 2-core machine running two test
    processes oversubscribe the cores. (tests/lessons/ has a module-scoped one of its own.)"""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
