"""A real uvicorn on 127.0.0.1, serving the router, in a thread of the test process.

A thread rather than a subprocess, like pytest-django's ``live_server``: the
server then uses this test's settings, database and blob folder, and a test
can monkeypatch what it reaches (the free space on the disk, a view that
blocks). It runs with the options ``make run`` uses (config/server.py), minus
the worker processes and the logging set-up; tests/server/test_make_run.py
starts the real command in a subprocess.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import uvicorn

from config.server import uvicorn_options
from tipline.server.asgi import Router


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Served:
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def start_server(transactional_db, blob_storage) -> Iterator[Callable[[], Served]]:
    """Call it once the test's settings are in place (the thread pools are sized at start)."""
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start() -> Served:
        port = free_port()
        options = uvicorn_options()
        options.pop("workers")
        options.update(host="127.0.0.1", port=port, log_config=None, timeout_graceful_shutdown=2)
        server = uvicorn.Server(uvicorn.Config(Router(), **options))
        thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
        thread.start()
        running.append((server, thread))
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return Served(port)

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=20)
