"""Creating files and folders that only the tip line's own user can read.

Every file the application creates goes through ``private_file_create``: mode
0600 from the first instant (no window in which the umask decides), ``O_EXCL``
so an existing file, or one an attacker planted, is never written into, and
``O_NOFOLLOW`` so a symbolic link cannot redirect the write elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def private_dir_ensure(path: Path | str) -> Path:
    """The folder (and its parents), created 0700 where missing."""
    path = Path(path)
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
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


def private_file_write(path: Path | str, data: bytes | str) -> None:
    """Create ``path`` (see ``private_file_create``) holding ``data``; text is UTF-8."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with os.fdopen(private_file_create(path), "wb") as handle:
        handle.write(payload)
