"""``python -m config.server``, as ``make run`` and the systemd unit start it, in a subprocess.

Two worker processes on a fresh data directory: each answers (the closed
tip line's page, since no key exists), the header deadline reaches the
workers (the protocol class survives uvicorn's process spawning), open files
are raised to the hard limit, and the log names no address.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.server.clients import closed_after, connect, probe
from tests.server.conftest import free_port
from tests.test_settings import INHERITED_PREFIXES

ROOT = Path(__file__).resolve().parents[2]


def worker_processes(pid: int) -> list[int]:
    """uvicorn's worker processes (not multiprocessing's resource tracker)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return [
        child for child in found if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def open_files_limits(pid: int) -> tuple[str, str]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return soft, hard
    raise AssertionError("no open files limit")


@pytest.mark.slow
def test_the_server_command_serves_with_its_limits(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED_PREFIXES)}
    port = free_port()
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        TIPLINE_DATA_DIR=str(tmp_path / "data"),
        PORT=str(port),
        WEB_WORKERS="2",
        TIPLINE_HEADER_TIMEOUT_SECONDS="1",
    )
    env.pop("HOST", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    log = tmp_path / "server.log"
    with log.open("wb") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "config.server"], cwd=ROOT, env=env, stderr=stderr
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as attempt:
                if attempt.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline and server.poll() is None, log.read_text()
            time.sleep(0.1)

        async def scenario() -> tuple[list[int], bytes, float]:
            statuses = [(await probe(port))[0] for _ in range(4)]
            reader, writer = await connect(port)
            writer.write(b"GET /es/ HTTP/1.1\r\n")  # and nothing more
            answer, after = await closed_after(reader, limit=10)
            writer.close()
            return statuses, answer, after

        statuses, answer, after = asyncio.run(scenario())
        assert statuses == [503] * 4  # the tip line is not open yet: no key on a fresh data dir
        assert answer == b"" and after < 4
        workers = worker_processes(server.pid)
        assert len(workers) == 2
        for pid in [server.pid, *workers]:
            soft, hard = open_files_limits(pid)
            assert soft == hard, (pid, soft, hard)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    text = log.read_text()
    assert "Application startup complete" in text
    assert "127.0.0.1" not in text  # scrubbed, and no access log
    assert "GET /es/" not in text


def test_the_server_refuses_to_start_without_collected_static_files(tmp_path: Path) -> None:
    # Without the manifest every page would answer 500 (its stylesheet has no
    # hashed name): one clear line at start instead, and no port taken.
    env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED_PREFIXES)}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        TIPLINE_DATA_DIR=str(tmp_path / "data"),
        STATIC_ROOT=str(tmp_path / "never-collected"),
        PORT=str(free_port()),
    )
    started = subprocess.run(
        [sys.executable, "-m", "config.server"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert "collectstatic" in started.stderr
    assert "Uvicorn running" not in started.stderr
