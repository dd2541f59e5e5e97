"""Run a program over a hostile document in a sandbox of its own (docs/sanitize.md, "Safe copies").

Each conversion is one process tree with:

- **no network**: a network namespace of its own (only a loopback that is down),
  so a document that names a server, even one on this machine's 127.0.0.1,
  reaches nothing;
- **a read-only view of the system** (bubblewrap): only ``/usr``, the fonts'
  configuration, the Python it runs and the converter script are visible, read-only;
  the data dir, the keys, ``/etc`` and the project are not there at all;
- **a private, empty temp dir in memory**: a tmpfs of a fixed size inside bubblewrap
  (or a fresh 0700 folder in ``/dev/shm`` with ``unshare``), gone when it ends, so
  no plaintext of a submission ever reaches a disk; the document comes in on a pipe;
- **limits**: address space (``RLIMIT_AS``), CPU time (``RLIMIT_CPU``), file size
  (``RLIMIT_FSIZE``), no core dumps, a cap on what it may print, and a wall clock
  after which the whole tree is killed;
- an unprivileged user (``nobody``) with no capabilities and no way to make new
  user namespaces.

bubblewrap is used where the kernel allows it; otherwise ``unshare -n`` gives the
network namespace alone (weaker: no read-only view), and ``tipline_status`` says
which. With neither, nothing is converted: a safe copy is then "could not be made".

This module knows nothing of Django or of tips: the caller passes the limits.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

NOBODY = 65534
# Where the converter script is seen inside bubblewrap.
INNER_SCRIPT_DIR = "/sandbox"
# The sandbox's own temp dir: a fresh tmpfs inside bubblewrap, not the host's /tmp.
INNER_TMP = "/tmp"  # noqa: S108
# Memory, not a disk: where the unshare fallback makes its private folder.
SHARED_MEMORY = "/dev/shm"  # noqa: S108
STDERR_KEPT = 4096
COPY_CHUNK = 256 * 1024


class SandboxKind(enum.StrEnum):
    BUBBLEWRAP = "bubblewrap"  # namespaces for everything, read-only system, tmpfs
    UNSHARE = "unshare"  # a network namespace and a private folder in /dev/shm only
    NONE = "none"  # no isolation possible: nothing is converted


@dataclass(frozen=True)
class SandboxLimits:
    memory_bytes: int
    cpu_seconds: int
    wall_seconds: float
    output_bytes: int  # what the program may print in all
    scratch_bytes: int  # the temp dir's size, and the largest file it may write


class SandboxError(Exception):
    """The sandboxed program did not finish well. ``reason`` is a stable code, never content."""

    def __init__(self, reason: str, stderr_tail: bytes = b"") -> None:
        super().__init__(reason)
        self.reason = reason
        # For tests and an operator's debugger only: never logged (it may echo content).
        self.stderr_tail = stderr_tail


# --- Which sandbox this machine allows ------------------------------------------------


def _probe(argv: Sequence[str]) -> bool:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=20, check=False)  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


@functools.cache
def sandbox_kind_detect(preference: str = "auto") -> SandboxKind:
    """The strongest sandbox that works here (probed once per process)."""
    if shutil.which("prlimit") is None:
        return SandboxKind.NONE  # no way to set the limits (util-linux)
    if preference in ("auto", SandboxKind.BUBBLEWRAP):
        bwrap = shutil.which("bwrap")
        if bwrap and _probe([*_bwrap_prefix(bwrap, scratch_bytes=1 << 20), "/bin/true"]):
            return SandboxKind.BUBBLEWRAP
        if preference == SandboxKind.BUBBLEWRAP:
            return SandboxKind.NONE
    unshare = shutil.which("unshare")
    if unshare and _probe([*_unshare_prefix(unshare), "/bin/true"]):
        return SandboxKind.UNSHARE
    return SandboxKind.NONE


# --- Command lines ------------------------------------------------------------------------


def _system_binds() -> list[str]:
    """/usr read-only, and /bin, /lib... as the host has them (symlinks into /usr or folders)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    # Just what fonts, the dynamic linker and LibreOffice read; not the rest of /etc.
    for etc in ("/etc/fonts", "/etc/ld.so.cache", "/etc/alternatives", "/etc/libreoffice"):
        args += ["--ro-bind-try", etc, etc]
    return args


def _python_binds() -> list[str]:
    """The Python that runs the converter and its packages, read-only, at the same paths."""
    args: list[str] = []
    for prefix in {sys.base_prefix, sys.prefix}:
        if not prefix.startswith("/usr/"):
            args += ["--ro-bind", prefix, prefix]
    return args


def _bwrap_prefix(bwrap: str, *, scratch_bytes: int) -> list[str]:
    return [
        bwrap,
        "--unshare-all",  # network, IPC, PID, UTS, cgroup namespaces
        "--unshare-user",
        "--uid",
        str(NOBODY),
        "--gid",
        str(NOBODY),
        "--disable-userns",
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
        *_system_binds(),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(scratch_bytes),
        "--tmpfs",
        INNER_TMP,
        "--chdir",
        INNER_TMP,
        "--clearenv",
        "--setenv",
        "HOME",
        INNER_TMP,
        "--setenv",
        "TMPDIR",
        INNER_TMP,
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--setenv",
        "OMP_THREAD_LIMIT",
        "1",
    ]


def _unshare_prefix(unshare: str) -> list[str]:
    if os.geteuid() == 0:
        # A network namespace, then down to nobody with no capabilities left.
        setpriv = shutil.which("setpriv") or "setpriv"
        return [
            unshare,
            "--net",
            "--fork",
            "--kill-child",
            setpriv,
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            "--inh-caps=-all",
            "--no-new-privs",
            "--",
        ]
    return [unshare, "--map-root-user", "--net", "--fork", "--kill-child", "--"]


def python_in_sandbox() -> str:
    return sys.executable


def script_path_in_sandbox(script: Path, kind: SandboxKind) -> str:
    return f"{INNER_SCRIPT_DIR}/{script.name}" if kind == SandboxKind.BUBBLEWRAP else str(script)


def _command(
    kind: SandboxKind, program: Sequence[str], *, script: Path | None, limits: SandboxLimits
) -> list[str]:
    if kind == SandboxKind.BUBBLEWRAP:
        bwrap = shutil.which("bwrap") or "bwrap"
        binds = _python_binds()
        if script is not None:
            binds += ["--ro-bind", str(script), f"{INNER_SCRIPT_DIR}/{script.name}"]
        return [*_bwrap_prefix(bwrap, scratch_bytes=limits.scratch_bytes), *binds, "--", *program]
    if kind == SandboxKind.UNSHARE:
        return [*_unshare_prefix(shutil.which("unshare") or "unshare"), *program]
    raise SandboxError("no_sandbox")


def _limits_prefix(limits: SandboxLimits) -> list[str]:
    """``prlimit`` in front of the sandbox: the limits every process of the tree inherits.

    Set by a program of their own rather than in ``preexec_fn``: with no
    broker the conversion runs in a thread of the web server, and Python code
    between fork and exec in a threaded process can deadlock.
    """
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        raise SandboxError("no_sandbox")
    return [
        prlimit,
        f"--as={limits.memory_bytes}",
        # SIGXCPU at the soft limit (said as "cpu_limit"); SIGKILL a little later if ignored.
        f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 5}",
        f"--fsize={limits.scratch_bytes}",
        "--core=0",
        "--",
    ]


@contextlib.contextmanager
def _private_dir(kind: SandboxKind) -> Iterator[str | None]:
    """For ``unshare``: a fresh 0700 folder in memory (/dev/shm), removed afterwards."""
    if kind != SandboxKind.UNSHARE:
        yield None
        return
    base = SHARED_MEMORY if os.path.isdir(SHARED_MEMORY) else None
    path = tempfile.mkdtemp(prefix="tipline-sandbox-", dir=base)
    try:
        if os.geteuid() == 0:
            os.chown(path, NOBODY, NOBODY)  # the program runs as nobody (setpriv)
        os.chmod(path, 0o700)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- Running ---------------------------------------------------------------------------------


class SandboxOutput:
    """The program's standard output, read with a cap: past it, the program is killed."""

    def __init__(self, stream: BinaryIO, cap: int, kill: Callable[[], None]) -> None:
        self._stream = stream
        self._left = cap
        self._kill = kill

    def read_exactly(self, size: int) -> bytes:
        """``size`` bytes, or ``SandboxError`` (cut short, or over the cap)."""
        if size > self._left:
            self._kill()
            raise SandboxError("output_too_large")
        data = self._stream.read(size)
        self._left -= len(data)
        if len(data) != size:
            raise SandboxError("output_cut_short")
        return data


@contextlib.contextmanager
def sandbox_run(
    program: Sequence[str],
    *,
    source: BinaryIO,
    limits: SandboxLimits,
    kind: SandboxKind,
    script: Path | None = None,
) -> Iterator[SandboxOutput]:
    """Run ``program`` in the sandbox, feeding it ``source`` on its standard input.

    Yields its standard output to parse; on leaving, waits for it and raises
    ``SandboxError`` if it failed, overran a limit or was killed. Whatever
    happens, the process tree is gone when this returns.
    """
    if kind == SandboxKind.NONE:
        raise SandboxError("no_sandbox")
    with _private_dir(kind) as private:
        command = [*_limits_prefix(limits), *_command(kind, program, script=script, limits=limits)]
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OMP_THREAD_LIMIT": "1"}
        if private is not None:
            env.update(HOME=private, TMPDIR=private)
        process = subprocess.Popen(  # noqa: S603 - a fixed program, no shell
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=private or "/",
            env=env,
            start_new_session=True,
        )
        supervised = _Supervised(process, limits)
        supervised.feed(source)
        with supervised:
            yield SandboxOutput(process.stdout, limits.output_bytes, supervised.kill)  # type: ignore[arg-type]
            supervised.finish()
        supervised.raise_for_outcome()


class _Supervised:
    """Feeds stdin, keeps stderr's tail, enforces the wall clock, and reaps the tree."""

    def __init__(self, process: subprocess.Popen[bytes], limits: SandboxLimits) -> None:
        self.process = process
        self.timed_out = False
        self.killed = False
        self._stderr = bytearray()
        self._timer = threading.Timer(limits.wall_seconds, self._time_up)
        self._threads = [
            threading.Thread(target=self._drain_stderr, daemon=True),
        ]

    def feed(self, source: BinaryIO) -> None:
        thread = threading.Thread(target=self._feed, args=(source,), daemon=True)
        self._threads.append(thread)

    def __enter__(self) -> _Supervised:
        self._timer.start()
        for thread in self._threads:
            thread.start()
        return self

    def _time_up(self) -> None:
        self.timed_out = True
        self.kill()

    def kill(self) -> None:
        self.killed = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := self.process.stderr.read(COPY_CHUNK):
            self._stderr += chunk
            del self._stderr[:-STDERR_KEPT]

    def finish(self) -> None:
        """The parser read everything it wanted: anything more is not waited for."""
        assert self.process.stdout is not None
        if self.process.stdout.read(1):
            self.kill()
            raise SandboxError("unexpected_output", bytes(self._stderr))

    def __exit__(self, exc_type: object, exc: object, *rest: object) -> None:
        # Output cut short: the program ended; its own outcome says why (a refusal,
        # a limit), so it is waited for rather than killed.
        cut_short = isinstance(exc, SandboxError) and exc.reason == "output_cut_short"
        if exc_type is not None and not cut_short:
            self.kill()
        self.process.wait()
        self._timer.cancel()
        # Whatever is left of the tree (a daemon it forked) goes with the group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        for thread in self._threads:
            thread.join(timeout=5)
        if self.timed_out and exc_type is not None:
            raise SandboxError("timeout", bytes(self._stderr))
        if cut_short:
            self.raise_for_outcome()

    def raise_for_outcome(self) -> None:
        code = self.process.returncode
        if self.timed_out:
            raise SandboxError("timeout", bytes(self._stderr))
        if code == 0:
            return
        # Killed by a signal: a negative code here, or 128 + the signal through bwrap.
        killed_by = -code if code < 0 else code - 128 if code > 128 else 0
        if killed_by == signal.SIGXCPU:
            raise SandboxError("cpu_limit", bytes(self._stderr))
        raise SandboxError("crashed" if killed_by else "refused", bytes(self._stderr))

    def _feed(self, source: BinaryIO) -> None:
        assert self.process.stdin is not None
        try:
            while chunk := source.read(COPY_CHUNK):
                self.process.stdin.write(chunk)
            self.process.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the program stopped reading (done, failed or killed): its outcome says which
