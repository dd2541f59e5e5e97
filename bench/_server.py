"""What the benchmarks that talk to the real server share: start it as `make run` does, measure it.

The server is ``python -m config.server`` (uvicorn, config/server.py) on
127.0.0.1 and a free port, on a throw-away data directory whose tip line is
open (migrated, a pipeline key and a recovery key made with a passphrase
that is not a secret). Nothing is sent anywhere but the loopback interface.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSPHRASE = "benchmark passphrase, not secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def raise_open_files_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def server_environment(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "CELERY_", "TIPLINE_", "HOST", "WEB_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "TIPLINE_DATA_DIR": str(data_dir),
            "PORT": str(port),
            "TIPLINE_RECOVERY_PASSPHRASE": PASSPHRASE,
            **extra,
        }
    )
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
    )


def open_tipline(env: dict[str, str], folder: Path) -> None:
    """What `make run` does first, plus the one command that opens the tip line."""
    manage(env, "migrate", "--noinput")
    manage(env, "init_pipeline_key")
    manage(env, "create_recovery_key", "--output", str(folder / "recovery.key"))


def start_server(env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "config.server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        # BENCH_SERVER_LOG=FILE keeps the server's own log, for when a run fails.
        stderr=open(os.environ.get("BENCH_SERVER_LOG", os.devnull), "ab"),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start (BENCH_SERVER_LOG=FILE keeps its log)")


def stop_server(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def worker_pids(supervisor: int) -> list[int]:
    """uvicorn's worker processes (not multiprocessing's resource tracker)."""
    found: list[int] = []
    for task in Path(f"/proc/{supervisor}/task").iterdir():
        found += [int(pid) for pid in (task / "children").read_text().split()]
    return [pid for pid in found if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def memory_kib(pid: int, field: str = "VmRSS") -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except FileNotFoundError:
        return 0
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def server_memory_kib(supervisor: int, field: str = "VmRSS") -> int:
    """``field`` summed over the supervisor and its worker processes."""
    return sum(memory_kib(pid, field) for pid in [supervisor, *worker_pids(supervisor)])
