"""The arrivals' batch: blobs leave the spool for storage together, and the disk's times go coarse.

A tip's blobs are written to the storage's spool (tipline/storage.py). Once
per window (``TIPLINE_ARRIVAL_BATCH_MINUTES``, one hour by default) a batch
takes every blob that arrived before the window's end, in a random order,
and copies each to its name as a *new* file or object (born, changed and, on
S3, ``LastModified`` at the batch), then deletes the spool copy. Deletions an
arrival asked for (a raw blob after cleaning) are done here too. Then every
access and modification time under the data dir, the local storage and the
memory cache is set back to the start of its window, so nothing on disk
says more than "arrived in the window before this batch". What the disk
shows before the batch runs, and what no batch can hide, is in
docs/arrivals.md.

Runs by itself: Celery beat sends ``tipline.retention.tasks.settle_arrivals``
at every window's end (config/celery.py); without a broker the embedded
runner (tipline/retention/scheduler.py) runs it. ``manage.py
settle_arrivals`` runs one now. One batch at a time: an ``flock`` in the
data dir (processes of one host) and, on PostgreSQL, an advisory lock (hosts
sharing a bucket). Every step can be cut off and is finished by the next.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import sqlite3
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.utils import timezone

from tipline.storage import (
    SPOOL_PREFIX,
    SpoolEntry,
    local_storage_root,
    spool_entries,
    spool_entry_settle,
    spool_forget_settle,
    spool_partials_delete,
    storage_folders_prepare,
)

logger = logging.getLogger(__name__)

LOCK_FILE = "arrivals.lock"
# pg_try_advisory_lock's key: any fixed number no other lock of this database uses.
_ADVISORY_LOCK_KEY = 0x7469706C696E6531  # "tipline1"
_SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


@dataclass
class SettleSummary:
    settled: int = 0  # blobs now stored under their names
    forgotten: int = 0  # stored copies deleted on an arrival's behalf
    refused: int = 0  # the storage failed: the next batch tries again
    waiting: int = 0  # arrived after the cutoff: the next batch's
    partials_deleted: int = 0  # half-written files of killed processes
    times_set: int = 0  # paths whose times went back to their window


# --- The window ----------------------------------------------------------------------------


def batch_seconds() -> int:
    return settings.TIPLINE_ARRIVAL_BATCH_MINUTES * 60


def batch_start(now: datetime) -> datetime:
    """The start of the window ``now`` is in (windows start at midnight UTC)."""
    seconds = int(now.timestamp())
    return datetime.fromtimestamp(seconds - seconds % batch_seconds(), tz=now.tzinfo)


def next_batch_at(now: datetime) -> datetime:
    return batch_start(now) + timedelta(seconds=batch_seconds())


# --- The batch -----------------------------------------------------------------------------


def arrivals_settle(
    *, cutoff: datetime | None = None, data_dir: Path | None = None
) -> SettleSummary | None:
    """One batch: every blob that arrived before ``cutoff`` (now, to the second, by default).

    None when another batch is running (it takes these blobs too).
    """
    cutoff = (cutoff or timezone.now()).replace(microsecond=0)
    with _batch_lock(Path(data_dir or settings.DATA_DIR)) as held:
        if not held:
            return None
        return _batch_run(cutoff)


def arrivals_settle_scheduled(*, now: datetime | None = None) -> SettleSummary | None:
    """The batch of the window that has just ended (beat's task, the embedded runner).

    What arrived since the window's end waits for the next one, so no blob
    settles in the same second it arrived.
    """
    return arrivals_settle(cutoff=batch_start(now or timezone.now()))


def _batch_run(cutoff: datetime) -> SettleSummary:
    summary = SettleSummary()
    storage_folders_prepare()
    entries = spool_entries()
    markers = [entry for entry in entries if entry.forget]
    due = [entry for entry in entries if not entry.forget and entry.arrived < cutoff]
    summary.waiting = len(entries) - len(markers) - len(due)
    shuffle = secrets.SystemRandom().shuffle
    shuffle(markers)
    shuffle(due)
    # Markers first: a blob rewritten after it was forgotten is newer than the marker.
    for marker in markers:
        if _step(spool_forget_settle, marker, summary):
            summary.forgotten += 1
    for entry in due:
        if _step(spool_entry_settle, entry, summary):
            summary.settled += 1
    abandoned = timezone.now() - timedelta(hours=settings.TIPLINE_ABANDONED_UPLOAD_HOURS)
    summary.partials_deleted = spool_partials_delete(older_than=abandoned)
    _memory_cache_expired_clear()
    summary.times_set = local_times_coarsen()
    # DEBUG only: even counts per window are for the daily line (tipline/retention/scheduler.py).
    logger.debug("arrivals: %s", summary)
    return summary


def _step(
    action: Callable[[SpoolEntry], object], entry: SpoolEntry, summary: SettleSummary
) -> bool:
    """Run one entry's step; a storage error counts and the batch goes on. Whether it happened."""
    try:
        return action(entry) is not False
    except Exception as exc:  # noqa: BLE001 - any backend error: the next batch retries
        summary.refused += 1
        # The type only; the random name at DEBUG.
        logger.warning("arrivals: an object could not be settled (%s)", type(exc).__name__)
        logger.debug("not settled: %s", entry.name)
        return False


def spool_waiting() -> int:
    """How many blobs wait in the spool for their batch."""
    return sum(1 for entry in spool_entries() if not entry.forget)


# --- One batch at a time -------------------------------------------------------------------


@contextmanager
def _batch_lock(folder: Path) -> Iterator[bool]:
    descriptor = os.open(
        folder / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
    )
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        with _database_lock() as held:
            yield held
    finally:
        os.close(descriptor)  # releases the flock


@contextmanager
def _database_lock() -> Iterator[bool]:
    """On PostgreSQL, a lock every host sees (hosts sharing a bucket); SQLite is one host."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_ADVISORY_LOCK_KEY])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_ADVISORY_LOCK_KEY])


# --- The memory cache ----------------------------------------------------------------------


def _memory_cache_expired_clear() -> None:
    # Expired used-form marks would otherwise stay in memory until read (tipline/intake/cache.py).
    clear = getattr(caches["default"], "clear_expired", None)
    if clear is not None:
        try:
            clear()
        except OSError as exc:
            logger.warning("arrivals: expired cache entries not cleared (%s)", type(exc).__name__)


# --- The times on the local disk -----------------------------------------------------------


def local_times_coarsen() -> int:
    """Set every access and modification time under this host's folders to its window's start.

    The data dir (the SQLite database, the generated keys, the spool of
    resumable uploads), the local blob storage, the file cache, and the SQLite
    database's files wherever they are. A file written or read since the last
    batch (a tip's blobs settled just now, the database written by a tip, a
    key read by the worker) says no more than its window. Blobs still waiting
    in the spool keep theirs (the next batch takes them). Change and birth
    times cannot be set: the batch's own moment is what they show. How many
    paths were changed.
    """
    step = batch_seconds() * 10**9
    storage = local_storage_root()
    skip = {(storage / SPOOL_PREFIX).resolve()} if storage is not None else set()
    changed = 0
    for root in _distinct_roots([Path(settings.DATA_DIR), storage, _file_cache_folder()]):
        changed += _tree_coarsen(root, step, skip)
    for path in _sqlite_files():
        changed += _path_coarsen(path, step)
    return changed


def _distinct_roots(candidates: list[Path | None]) -> list[Path]:
    roots = [path.resolve() for path in candidates if path is not None]
    return [
        root
        for index, root in enumerate(roots)
        if root not in roots[:index]
        and not any(root != other and root.is_relative_to(other) for other in roots)
    ]


def _file_cache_folder() -> Path | None:
    folder = getattr(caches["default"], "_dir", None)  # Django's FileBasedCache's folder
    return Path(folder) if folder else None


def _sqlite_database() -> str | None:
    if connection.vendor != "sqlite":
        return None
    name = str(connection.settings_dict["NAME"])
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return name


def _sqlite_files() -> list[Path]:
    name = _sqlite_database()
    return [Path(name + suffix) for suffix in _SQLITE_SUFFIXES] if name else []


_wal_keeper: sqlite3.Connection | None = None


def sqlite_wal_keep() -> None:
    """Hold the SQLite database open for this process's life, so its -wal and -shm stay.

    SQLite deletes them when the last connection closes, and Django closes its
    connection after every request: on a quiet server the next request, a tip,
    made them again, born that second, and the batch cannot change a birth
    time. One idle connection per process (no transaction, so it holds up no
    checkpoint) keeps them born at the server's start. Nothing on PostgreSQL.
    """
    global _wal_keeper
    name = _sqlite_database()
    if name is None or _wal_keeper is not None or not Path(name).exists():
        return
    keeper = sqlite3.connect(name, check_same_thread=False, isolation_level=None)
    # A read opens the write-ahead log and its index; the connection keeps them.
    # Read to the end and closed: no read transaction stays open to hold up a checkpoint.
    cursor = keeper.execute("SELECT count(*) FROM sqlite_master")
    cursor.fetchall()
    cursor.close()
    _wal_keeper = keeper


def _tree_coarsen(folder: Path, step: int, skip: set[Path]) -> int:
    """The folder's entries (not through links), then the folder (reading it set its atime)."""
    changed = 0
    if folder not in skip:
        try:
            listing = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            listing = []
        for entry in listing:
            if entry.is_dir(follow_symlinks=False):
                changed += _tree_coarsen(Path(entry.path), step, skip)
            elif not entry.is_symlink():
                changed += _path_coarsen(Path(entry.path), step)
    return changed + _path_coarsen(folder, step)


def _path_coarsen(path: Path, step: int) -> int:
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            return 0
        atime = info.st_atime_ns - info.st_atime_ns % step
        mtime = info.st_mtime_ns - info.st_mtime_ns % step
        if (atime, mtime) == (info.st_atime_ns, info.st_mtime_ns):
            return 0
        os.utime(path, ns=(atime, mtime), follow_symlinks=False)
    except (FileNotFoundError, PermissionError):
        return 0  # gone meanwhile, or not ours
    return 1
