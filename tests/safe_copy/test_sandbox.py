"""The sandbox itself: small hostile programs run inside it, and what they cannot do.

Each refusal is shown against a control: the same program outside the
sandbox does what it tries (connects, writes, reads), so the test proves the
sandbox stops it, not that the program was broken.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tipline.worker.safe_copy import sandbox_kind, sandbox_limits
from tipline.worker.sandbox import SandboxError, SandboxKind, SandboxLimits, sandbox_run

CONNECT = """
import socket, sys
s = socket.socket()
s.settimeout(3)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError as exc:
    print("blocked", exc.errno)
    sys.exit(7)
print("connected")
"""

WRITE = """
import sys
try:
    with open(sys.argv[1], "w") as handle:
        handle.write("escaped")
except OSError as exc:
    print("blocked", exc.errno)
    sys.exit(7)
print("written")
"""


def run_inside(code: str, *args: str, limits: SandboxLimits | None = None) -> bytes:
    """Run ``code`` in the sandbox; its output (``SandboxError`` if it exits non-zero)."""
    with sandbox_run(
        [sys.executable, "-I", "-c", code, *args],
        source=io.BytesIO(b""),
        limits=limits or sandbox_limits(),
        kind=sandbox_kind(),
    ) as output:
        collected = b""
        try:
            while True:
                collected += output.read_exactly(1)
        except SandboxError as cut_short:
            if cut_short.reason != "output_cut_short":
                raise
    return collected


def run_outside(code: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-I", "-c", code, *args], capture_output=True, check=False, timeout=30
    )


def test_bubblewrap_is_what_this_machine_uses() -> None:
    # CI installs bubblewrap (.ci/run): the strongest sandbox must be the one in use.
    assert sandbox_kind() == SandboxKind.BUBBLEWRAP


def test_a_program_inside_cannot_open_a_socket_to_this_machine(listener) -> None:
    assert b"connected" in run_outside(CONNECT, str(listener.port)).stdout  # the control
    time.sleep(0.3)
    before = listener.connections
    assert before >= 1
    with pytest.raises(SandboxError) as refused:
        run_inside(CONNECT, str(listener.port))
    assert refused.value.reason == "refused"
    time.sleep(0.3)
    assert listener.connections == before


def test_a_program_inside_cannot_write_outside_its_dir(tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    assert run_outside(WRITE, str(target)).returncode == 0 and target.exists()  # the control
    target.unlink()
    for outside in (target, Path(sys.prefix) / "escaped.txt", Path("/usr/escaped.txt")):
        with pytest.raises(SandboxError):
            run_inside(WRITE, str(outside))
        assert not outside.exists()
    assert b"written" in run_inside(WRITE, "/tmp/inside.txt")  # its own dir is writable


def test_a_program_inside_sees_no_data_dir_and_no_key(settings) -> None:
    listing = f"import os; print(sorted(os.listdir({str(settings.DATA_DIR)!r})))"
    assert run_outside(listing).returncode == 0  # the control: the worker sees it
    with pytest.raises(SandboxError):
        run_inside(listing)
    assert b"shadow" not in run_inside("import os; print(os.listdir('/etc'))")


def test_a_hang_is_killed_by_the_wall_clock() -> None:
    limits = SandboxLimits(
        memory_bytes=1 << 30,
        cpu_seconds=60,
        wall_seconds=2,
        output_bytes=1 << 20,
        scratch_bytes=1 << 20,
    )
    started = time.monotonic()
    with pytest.raises(SandboxError) as killed:
        run_inside("import time; time.sleep(600)", limits=limits)
    assert killed.value.reason == "timeout"
    assert time.monotonic() - started < 15


def test_a_busy_loop_is_stopped_by_the_cpu_limit() -> None:
    limits = SandboxLimits(
        memory_bytes=1 << 30,
        cpu_seconds=1,
        wall_seconds=60,
        output_bytes=1 << 20,
        scratch_bytes=1 << 20,
    )
    with pytest.raises(SandboxError) as stopped:
        run_inside("while True: pass", limits=limits)
    assert stopped.value.reason == "cpu_limit"


def test_a_memory_bomb_fails_inside_and_costs_nothing_outside() -> None:
    limits = SandboxLimits(
        memory_bytes=512 << 20,
        cpu_seconds=30,
        wall_seconds=60,
        output_bytes=1 << 20,
        scratch_bytes=1 << 20,
    )
    with pytest.raises(SandboxError) as failed:
        run_inside("blob = bytearray(4 << 30)", limits=limits)
    assert failed.value.reason == "refused" and b"MemoryError" in failed.value.stderr_tail


def test_a_flood_of_output_is_cut_off_at_the_cap() -> None:
    limits = SandboxLimits(
        memory_bytes=1 << 30,
        cpu_seconds=30,
        wall_seconds=60,
        output_bytes=1 << 20,
        scratch_bytes=1 << 20,
    )
    with pytest.raises(SandboxError) as capped:
        with sandbox_run(
            [
                sys.executable,
                "-I",
                "-c",
                "import sys\nwhile True: sys.stdout.buffer.write(b'x' * 65536)",
            ],
            source=io.BytesIO(b""),
            limits=limits,
            kind=sandbox_kind(),
        ) as output:
            while True:
                output.read_exactly(65536)
    assert capped.value.reason == "output_too_large"


def test_the_temp_dir_is_memory_and_gone_afterwards() -> None:
    marker = "tipline-sandbox-marker-3b1f"
    code = (
        "import os\n"
        f"open('/tmp/{marker}', 'w').write('plaintext')\n"
        "print(open('/proc/self/mounts').read())"
    )
    mounts = run_inside(code).decode()
    assert any(line.split()[1:3] == ["/tmp", "tmpfs"] for line in mounts.splitlines())
    for root in (Path("/tmp"), Path("/dev/shm"), Path("/var/tmp")):
        assert not list(root.glob(f"**/{marker}")), root


def test_tipline_status_says_which_sandbox(db, settings) -> None:
    from django.core.management import call_command

    settings.TIPLINE_SAFE_COPIES = True
    out = io.StringIO()
    call_command("tipline_status", stdout=out)
    assert "Safe copies: made in a bubblewrap sandbox" in out.getvalue()
