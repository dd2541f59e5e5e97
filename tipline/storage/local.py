"""The local file system: blobs written whole and durable, listed, copied into their names."""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from django.core.files import File
from django.core.files.storage import FileSystemStorage

from tipline.private_files import (
    O_NOATIME,
    WritebackPacer,
    folder_fsync,
    open_for_reading,
    private_dir_ensure,
    private_file_create,
)
from tipline.storage.names import (
    BLOB_KINDS,
    PARTIAL_PREFIX,
    SPOOL_PREFIX,
    SpoolEntry,
    _spool_entry_of,
    is_blob_name,
    spool_name_of,
)
from tipline.storage.s3 import StoredBlob


class DurableFile(File):
    """A blob being written that reaches the disk, under its name, before ``close`` returns.

    The source is told "your tip has arrived" only after its blobs are closed:
    a crash a moment later must not lose what we said we had. The disk starts
    writing a long blob while it is still arriving (``WritebackPacer``). It is
    written under a partial name and renamed to its own when closed, so a blob
    still arriving is never taken for a whole one (by a batch, by a reader).
    ``close`` after an abandoned stream renames too: the stream's own format
    says it is unfinished, as it did when blobs were written in place.
    """

    def __init__(self, file: BinaryIO, name: str, *, partial: Path, target: Path) -> None:
        super().__init__(file, name=name)
        self._raw = file
        self._writeback = WritebackPacer(file.fileno())
        self._partial, self._target = partial, target

    def write(self, data: Any, /) -> int:
        written = self._raw.write(data)
        self._writeback.wrote(len(data))
        return written

    def close(self) -> None:
        if self.closed or self.file is None:
            super().close()
            return
        self.file.flush()
        os.fsync(self.file.fileno())
        super().close()
        os.replace(self._partial, self._target)
        folder_fsync(self._target.parent)


class BlobFileSystemStorage(FileSystemStorage):
    """File-system storage that can also open a new blob for streaming writes.

    Django's ``FileSystemStorage.open(name, "wb")`` does not create the parent
    folders and would follow a symbolic link; blobs are created mode 0600 and
    never through a link. Writing an existing name replaces it (atomically, on
    close), as on S3, so a retried pipeline step can rewrite the blob it had
    started. Reading neither follows a link nor sets the access time.
    """

    def open(self, name: str, mode: str = "rb") -> File:
        if "w" not in mode:
            return File(open_for_reading(self.path(name)), name=name)
        target = Path(self.path(name))
        private_dir_ensure(target.parent)
        partial = target.with_name(f"{PARTIAL_PREFIX}{target.name}-{secrets.token_hex(4)}")
        fd = private_file_create(partial)
        return DurableFile(os.fdopen(fd, "wb"), name=name, partial=partial, target=target)


def _local_spool_blobs(root: Path) -> Iterator[StoredBlob]:
    for entry in _local_spool_entries(root):
        if not entry.forget:
            yield StoredBlob(entry.name, entry.modified)


def _local_blobs(root: Path) -> Iterator[StoredBlob]:
    for kind in BLOB_KINDS:
        # os.walk does not follow symbolic links into other folders.
        for folder, _dirs, files in os.walk(root / kind):
            for file_name in files:
                path = Path(folder) / file_name
                name = path.relative_to(root).as_posix()
                if not is_blob_name(name):
                    continue
                try:
                    info = os.lstat(path)
                except FileNotFoundError:
                    continue  # deleted meanwhile
                if stat.S_ISREG(info.st_mode):
                    yield StoredBlob(name, datetime.fromtimestamp(info.st_mtime, tz=UTC))


def _local_partials_delete(root: Path, *, older_than: datetime) -> int:
    deleted = 0
    with os.scandir(root / SPOOL_PREFIX) as entries:
        for entry in entries:
            if not entry.name.startswith(PARTIAL_PREFIX) or entry.is_symlink():
                continue
            try:
                if entry.stat(follow_symlinks=False).st_mtime < older_than.timestamp():
                    os.unlink(entry.path)
                    deleted += 1
            except FileNotFoundError:
                continue
    return deleted


def _local_spool_entries(root: Path) -> Iterator[SpoolEntry]:
    try:
        listing = list(os.scandir(root / SPOOL_PREFIX))
    except FileNotFoundError:
        return
    for item in listing:
        try:
            info = item.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # settled or deleted meanwhile
        if not stat.S_ISREG(info.st_mode):
            continue
        # The change time too: a finished upload is renamed in with an old mtime.
        arrived = datetime.fromtimestamp(max(info.st_mtime, info.st_ctime), tz=UTC)
        modified = datetime.fromtimestamp(info.st_mtime, tz=UTC)
        entry = _spool_entry_of(f"{SPOOL_PREFIX}/{item.name}", arrived, modified)
        if entry is not None:
            yield entry


def _local_settle(root: Path, name: str) -> bool:
    source, target = root / spool_name_of(name), root / name
    # Written in the spool folder and renamed in, so the named file is whole at
    # once; a new file, never the spool's own (a rename would keep its birth time).
    partial = root / SPOOL_PREFIX / f"{PARTIAL_PREFIX}settle-{target.name}"
    try:
        reader = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | O_NOATIME)
    except FileNotFoundError:
        return False
    try:
        writer = private_file_create(partial, replace=True)
        try:
            _copy_file(reader, writer)
            os.fsync(writer)
        finally:
            os.close(writer)
    finally:
        os.close(reader)
    private_dir_ensure(target.parent)
    os.replace(partial, target)
    folder_fsync(target.parent)
    try:
        os.unlink(source)
    except FileNotFoundError:
        _unlink_quietly(target)  # deleted while it was being copied: the copy goes too
        return False
    folder_fsync(source.parent)
    return True


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _copy_file(reader: int, writer: int) -> None:
    """Copy a whole file between descriptors, in the kernel where it can."""
    size = os.fstat(reader).st_size
    offset = 0
    try:
        while offset < size:
            copied = os.copy_file_range(reader, writer, size - offset, offset, offset)
            if copied == 0:
                break
            offset += copied
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    while piece := os.pread(reader, 1024 * 1024, offset):
        os.pwrite(writer, piece, offset)
        offset += len(piece)
