"""The storage reserve: files are refused while the blob disk is nearly full.

A disk filled to the last byte breaks more than uploads: SQLite, the cache and
the logs on the same disk stop too, and tips already stored may not get their
cleaned copies. So new files are refused, with a message that says so, when
they would leave less than ``TIPLINE_STORAGE_RESERVE_MB`` free on the disk
that holds the blobs. Notes without files are never refused for space: they
are small, and a source with something to say can still say it.

Only the local storage is checked; an object store (S3) has no disk to fill.
The check runs before the body is read when its Content-Length is known
(tipline/intake/views.py and the streaming intake), and again while a body is
received, at each new file and every few megabytes (the upload handler), so a
body without a declared length is refused too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage

MIB = 1024 * 1024
# A body larger than the text fields' cap plus this much framing carries files.
FRAMING_ALLOWANCE = MIB
# While a body is received, the free space is checked again every this many bytes of files.
CHECK_EVERY_BYTES = 8 * MIB


def storage_free_bytes() -> int | None:
    """Free bytes on the disk of the blob storage; None when it is not a local disk."""
    if not isinstance(default_storage, FileSystemStorage):
        return None
    # The blob folder is made on the first write: ask its nearest existing parent.
    folder = Path(default_storage.location)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def storage_reserve_short(incoming: int = 0) -> bool:
    """True when ``incoming`` more bytes would leave less than the reserve free."""
    reserve = settings.TIPLINE_STORAGE_RESERVE_MB * MIB
    if reserve <= 0:
        return False
    free = storage_free_bytes()
    return free is not None and free - incoming < reserve


def storage_reserve_refuses(declared_length: int) -> bool:
    """Refuse a body from its Content-Length alone: only one that must carry files."""
    if declared_length <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE + FRAMING_ALLOWANCE:
        return False  # could be a note without files: decided when a file arrives
    return storage_reserve_short(declared_length)
