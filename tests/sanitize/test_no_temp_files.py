"""Plaintext never touches the disk: sanitizing every corpus file creates no file.

Two independent proofs:
- in process: the tempfile module is booby-trapped, TMPDIR points at an empty
  directory, and a Python audit hook records every open for writing;
- at the system-call level: a child process cleans the files under strace,
  which sees file creation by the C libraries too (FFmpeg, libheif, qpdf, ...).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from . import makers, makers_office
from ._support import clean, corpus_files

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | getattr(os, "O_TMPFILE", 0)
_watch = {"on": False, "seen": []}


def _audit(event: str, args: tuple) -> None:
    if not _watch["on"] or event != "open":
        return
    path, mode, flags = args
    writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
        isinstance(flags, int) and flags & WRITE_FLAGS
    )
    if writing:
        _watch["seen"].append(str(path))


sys.addaudithook(_audit)  # cannot be removed: it only records while "on"


def _boom(*args, **kwargs):
    raise AssertionError("a sanitizer asked for a temporary file")


def test_no_file_is_created_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "tmp"
    empty.mkdir()
    monkeypatch.setenv("TMPDIR", str(empty))
    monkeypatch.setattr(tempfile, "tempdir", str(empty))
    for name in (
        "mkstemp",
        "mkdtemp",
        "NamedTemporaryFile",
        "TemporaryFile",
        "SpooledTemporaryFile",
        "TemporaryDirectory",
    ):
        monkeypatch.setattr(tempfile, name, _boom)
    inputs = [p.read_bytes() for p in corpus_files()]
    cwd_before = sorted(os.listdir("."))
    _watch["seen"] = []
    _watch["on"] = True
    try:
        statuses = [clean(data)[0].status for data in inputs]
    finally:
        _watch["on"] = False
    assert _watch["seen"] == []
    assert list(empty.iterdir()) == []
    assert sorted(os.listdir(".")) == cwd_before
    assert statuses.count("cleaned") > 80


CHILD = """
import io, sys
from tipline.sanitize import sanitize
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        data = f.read()
    print(sanitize(io.BytesIO(data), io.BytesIO()).status, flush=True)
"""
SYSCALLS = (
    "open,openat,openat2,creat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat,"
    "symlink,symlinkat"
)
WRITE_OPEN = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TMPFILE")
CREATING = re.compile(r"^\d+\s+(creat|mkdir|mkdirat|rename\w*|link\w*|symlink\w*)\(")


def test_no_file_is_created_by_any_library(tmp_path: Path) -> None:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    extra = {
        "c.mp4": makers.video(tmp_path, "mp4"),
        "c.heic": makers.heic(tmp_path),
        "c.pdf": makers.pdf(tmp_path),
        "c.docx": makers_office.docx(),
        "c.odt": makers_office.odt(),
        "c.flac": makers.audio(tmp_path, "flac"),
    }
    for name, data in extra.items():
        (tmp_path / name).write_bytes(data)
    files = [str(p) for p in corpus_files()] + [str(tmp_path / n) for n in extra]
    log = tmp_path / "strace.log"
    env = {
        **os.environ,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "TMPDIR": str(tmp_path),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [
            strace,
            "-f",
            "-qq",
            "-e",
            f"trace={SYSCALLS}",
            "-o",
            str(log),
            sys.executable,
            "-c",
            CHILD,
            *files,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if "ptrace" in result.stderr or "Operation not permitted" in result.stderr:
        pytest.skip("ptrace is not permitted here")
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(result.stdout.split()) == len(files)
    offending = []
    for line in log.read_text().splitlines():
        if "/dev/" in line or "resumed>" in line and "O_" not in line:
            continue
        if (WRITE_OPEN.search(line) and "open" in line) or CREATING.search(line):
            offending.append(line)
    assert offending == []
