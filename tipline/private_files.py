"""Creating files and folders that only the tip line's own user can read.

Every file the application creates goes through ``private_file_create``: mode
0600 from the first instant (no window in which the umask decides), ``O_EXCL``
so an existing file, or one an attacker planted, is never written into, and
``O_NOFOLLOW`` so a symbolic link cannot redirect the write elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

# Reading must not set a file's access time (an editor's first read of a blob,
# the worker's read of its key): the batch of arrivals puts the times back to
# their window. Not allowed on another user's files; ``open_for_reading`` then
# opens as usual.
O_NOATIME = getattr(os, "O_NOATIME", 0)
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def private_dir_ensure(path: Path | str) -> Path:
    """The folder (and its parents), created 0700 where missing.

    ``Path.mkdir(parents=True)`` would make the missing parents with the
    process umask's mode: each missing level is made here, 0700, instead.
    """
    path = Path(path)
    missing = []
    level = path
    while not level.exists() and level != level.parent:
        missing.append(level)
        level = level.parent
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
    return path


def private_file_create(path: Path | str, *, replace: bool = False) -> int:
    """A new file open for writing (a descriptor), 0600, never through a link.

    ``FileExistsError`` if the name is taken, unless ``replace``: then the old
    file is unlinked first and a new one created in its place (a retried write
    of the same blob), still never opening what was there.
    """
    if replace:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    return os.open(path, _CREATE_FLAGS, PRIVATE_FILE_MODE)


def open_for_reading(path: Path | str) -> BinaryIO:
    """A local file opened for reading without setting its access time, never through a link."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        descriptor = os.open(path, flags | O_NOATIME)
    except PermissionError:
        descriptor = os.open(path, flags)
    return os.fdopen(descriptor, "rb")


def folder_fsync(folder: Path | str) -> None:
    """Make a new entry in ``folder`` durable (a created, renamed or deleted file's name)."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def private_file_write(path: Path | str, data: bytes | str) -> None:
    """Create ``path`` (see ``private_file_create``) holding ``data``; text is UTF-8."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with os.fdopen(private_file_create(path), "wb") as handle:
        handle.write(payload)


class WritebackPacer:
    """Starts the disk writing a long file's pages while more of it is still arriving.

    A blob is fsync'd before the source is told it has arrived. Left alone,
    the kernel keeps a fresh file's pages in memory until that fsync (or
    until gigabytes are dirty), so the whole file would be written to the
    disk only then, after the network was done. Asking for the writeback of
    every few MiB as they are written (``posix_fadvise(DONTNEED)`` starts it
    without waiting, and lets the cache drop the pages once they are on
    disk) makes disk and network work at the same time; the fsync at the
    end then waits for the last few MiB only.
    """

    EVERY_BYTES = 4 * 1024 * 1024

    def __init__(self, descriptor: int, *, start: int = 0) -> None:
        self._descriptor = descriptor
        self._started_up_to = start
        self._written_up_to = start

    def wrote(self, count: int) -> None:
        """``count`` more bytes went to the file (at its end, through unbuffered writes)."""
        self._written_up_to += count
        pending = self._written_up_to - self._started_up_to
        if pending >= self.EVERY_BYTES and hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self._descriptor, self._started_up_to, pending, os.POSIX_FADV_DONTNEED)
            self._started_up_to = self._written_up_to
