"""Every file the tip line creates is 0600 and every folder 0700, under ``make run`` too.

Issue 13 found ``blobs/`` and its folders 0755 and the SQLite file 0644 after
``make run``: what our code creates with a mode of its own was private, but
SQLite's files, the parents ``mkdir -p`` makes and Django's own files take
the process's umask. Here ``make run``'s steps run as they do there, each in
its own process, on a fresh data directory (migrate, init_pipeline_key,
tipline_status, ``python -m config.server`` with two workers), plus the
command that opens the tip line; a tip with files is sent over HTTP; then
every path under the data directory is checked, while the server runs (the
SQLite -wal/-shm files exist then), after it stopped, and after an
arrivals' batch and a pipeline key rotation (which the server runs by itself
later) made their files.
"""

from __future__ import annotations

import http.client
import io
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.test_settings import INHERITED_PREFIXES

ROOT = Path(__file__).resolve().parents[1]
PASSPHRASE = "file modes test passphrase, not secret"
CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED_PREFIXES)}
    env.pop("HOST", None)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        TIPLINE_DATA_DIR=str(data_dir),
        PORT=str(port),
        WEB_WORKERS="2",
        TIPLINE_RECOVERY_PASSPHRASE=PASSPHRASE,
        TIPLINE_PASSWORD="a long admin password 42",
    )
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


def wait_for_port(port: int, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        with socket.socket() as attempt:
            if attempt.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert time.monotonic() < deadline and server.poll() is None, log.read_text()
        time.sleep(0.1)


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), "teal").save(out, "JPEG")
    return out.getvalue()


def send_tip(port: int) -> None:
    """The landing page, then the form's POST with two files, as a browser without JS sends it."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("GET", "/es/")
    page = connection.getresponse()
    body = page.read().decode()
    assert page.status == 200, body[:500]
    cookies = "; ".join(
        value.split(";", 1)[0] for name, value in page.getheaders() if name.lower() == "set-cookie"
    )
    fields = {
        "csrfmiddlewaretoken": CSRF_TOKEN.search(body).group(1),
        "form_token": FORM_TOKEN.search(body).group(1),
        "note": "modes",
    }
    files = {"picture.jpg": jpeg(), "ledger.bin": b"\x00\x01 not cleaned \xff" * 100}
    boundary = "modes" + secrets.token_hex(8)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    for name, content in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    payload = b"".join(parts) + f"--{boundary}--\r\n".encode()
    connection.request(
        "POST",
        "/es/send/",
        body=payload,
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Cookie": cookies,
            "Origin": f"http://127.0.0.1:{port}",
            "Referer": f"http://127.0.0.1:{port}/es/",
            "Sec-Fetch-Site": "same-origin",
        },
    )
    answer = connection.getresponse()
    text = answer.read().decode()
    assert answer.status == 200, text[:500]
    connection.close()


def cache_folder(env: dict[str, str]) -> Path | None:
    """The file cache's folder these settings use (outside the data dir), if any."""
    code = "from django.conf import settings; print(settings.CACHES['default'].get('LOCATION', ''))"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = result.stdout.strip().splitlines()  # the shell may say more before it
    location = lines[-1].strip() if lines else ""
    return Path(location) if location.startswith("/") else None


def loose_modes(root: Path) -> list[str]:
    """Every path under ``root`` (``root`` too) whose mode lets group or others in."""
    found = []
    for folder, dirs, files in os.walk(root):
        for path in [Path(folder), *(Path(folder) / name for name in files)]:
            mode = stat.S_IMODE(path.lstat().st_mode)
            expected = 0o700 if path.is_dir() else 0o600
            if mode != expected:
                found.append(f"{path.relative_to(root.parent)}: {oct(mode)}")
        dirs.sort()
    return sorted(set(found))


@pytest.fixture
def make_run_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """`make run`'s environment on a fresh data dir; its cache folder is removed afterwards."""
    env = environment(tmp_path / "data", free_port())
    cache = cache_folder(env)
    yield env
    # Outside the data dir (a memory file system): our own, named after this data dir.
    if cache is not None and cache.is_dir() and cache.name.startswith("tipline-"):
        shutil.rmtree(cache)


@pytest.mark.slow
def test_make_run_creates_only_private_files_and_folders(
    tmp_path: Path, make_run_env: dict[str, str]
) -> None:
    env, data_dir, port = make_run_env, tmp_path / "data", int(make_run_env["PORT"])
    manage(env, "migrate", "--noinput")
    manage(env, "init_pipeline_key")
    manage(env, "setup_link")  # as `make run` does; the commands below end set-up
    manage(env, "create_recovery_key", "--output", str(tmp_path / "recovery.key"))
    manage(env, "create_editor", "root", "--admin")  # #16: both open the tip line
    manage(env, "tipline_status")
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "config.server"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=output,
        )
    cache = cache_folder(env)
    try:
        wait_for_port(port, server, log)
        send_tip(port)
        send_tip(port)
        blobs = [path for path in (data_dir / "blobs").rglob("*") if path.is_file()]
        assert blobs, "the tip's files were not stored under the data dir"
        running = loose_modes(data_dir)
        # The flood counters and used-form marks, wherever the settings keep them.
        cached = loose_modes(cache) if cache is not None and cache.is_dir() else []
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=90)
    assert running == [], running
    assert cached == [], cached
    assert loose_modes(data_dir) == []
    # What the embedded runner does later under `make run`: an arrivals' batch
    # (its lock file; the tips above wait for their window to end) and a
    # rotation of the pipeline key (a new key file, the old one destroyed).
    manage(env, "settle_arrivals")
    manage(env, "rotate_pipeline_key")
    assert loose_modes(data_dir) == []
    assert stat.S_IMODE((tmp_path / "recovery.key").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("before", "after"), [(0o000, 0o077), (0o022, 0o077), (0o027, 0o077), (0o277, 0o277)]
)
def test_every_entry_point_narrows_the_umask_and_never_widens_it(
    tmp_path: Path, before: int, after: int
) -> None:
    """``prepare_data_dir``, which every entry point calls first, sets it: seen from a new
    process started with the operator's umask."""
    env = environment(tmp_path / "data", free_port())
    code = (
        "import os; from config.bootstrap import prepare_data_dir; prepare_data_dir(); "
        "current = os.umask(0); print(oct(current))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        preexec_fn=lambda: os.umask(before),
    )
    assert result.stdout.strip() == oct(after)
