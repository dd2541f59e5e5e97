"""The daily run: purge, sweep and the editors' reminder, once a day after the set hour (UTC).

With a broker, Celery beat sends ``tipline.retention.tasks.daily_maintenance``
at that hour (config/celery.py) and a worker runs it. The embedded default has
no broker and no beat, so each web worker process starts a daemon thread
(tipline/server/asgi.py, at the ASGI lifespan's startup) that wakes every ten minutes
and runs the day's maintenance if it is past the hour (UTC) and nobody has run
it today. Several workers (and a ``make run`` restarted at noon) agree through
two small files in ``DATA_DIR``:

- ``daily-maintenance.lock``, held with an exclusive, non-blocking ``flock``
  while one of them checks and runs: the others skip that turn. The kernel
  drops the lock when its holder dies, so a killed worker never leaves it stuck.
- ``daily-maintenance.last``, the UTC date of the last completed run, written
  after the run (atomically). A run cut off (a worker restarted mid-purge)
  records nothing, so the next check runs it again; every step is idempotent.

Files rather than a database row: no migration, and the embedded default is
one host by definition (more hosts means a broker, and then beat decides).

At every wake-up the thread also checks the pipeline key's age and rotates it
when due (``pipeline_key_rotation_check``): with no broker, the web process is
the worker that holds the key. With a broker, beat sends that check hourly.

The same thread runs the arrivals' batch (tipline/retention/settle.py) just
after the end of each window (``TIPLINE_ARRIVAL_BATCH_MINUTES``), waking then
as well as every ten minutes. With a broker, beat sends the batch to a
worker, and the thread here only sets this host's file times back to their
window at each window's end (the web host has a data dir too). The daily
maintenance ends with one line of counts for the day before
(tipline/retention/counts.py), which replaces any log line per tip or file.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import import_module
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.utils import timezone

from tipline.audit import SYSTEM_ACTOR
from tipline.pipeline_key import pipeline_key_rotate_if_due
from tipline.private_files import private_file_create
from tipline.retention.counts import daily_counts_log
from tipline.retention.purge import PurgeSummary, tips_purge_expired
from tipline.retention.settle import (
    arrivals_settle_scheduled,
    batch_start,
    local_times_coarsen,
    next_batch_at,
    spool_waiting,
    sqlite_wal_keep,
)
from tipline.retention.sweep import SweepSummary, uploads_sweep

logger = logging.getLogger(__name__)

LOCK_FILE = "daily-maintenance.lock"
LAST_RUN_FILE = "daily-maintenance.last"
CHECK_EVERY_SECONDS = 600
# Let the worker finish starting (and serve its first requests) before the first check.
FIRST_CHECK_AFTER_SECONDS = 60
# The batch runs this long after its window ends: a tip whose last write
# straddles the boundary has finished by then.
BATCH_DELAY_SECONDS = 5


@dataclass
class DailyResult:
    purge: PurgeSummary | None = None
    sweep: SweepSummary | None = None
    notified: int | None = None  # None: the reminder is off (or not available)
    failed: list[str] = field(default_factory=list)  # the steps that raised


def daily_maintenance_run() -> DailyResult:
    """The purge, the sweep and the reminder. One failing step does not stop the others."""
    result = DailyResult()
    try:
        result.purge = tips_purge_expired()
    except Exception as exc:  # noqa: BLE001 - logged without content; tomorrow retries
        _step_failed(result, "purge", exc)
    try:
        result.sweep = uploads_sweep()
    except Exception as exc:  # noqa: BLE001
        _step_failed(result, "sweep", exc)
    try:
        result.notified = _daily_notification()
    except Exception as exc:  # noqa: BLE001
        _step_failed(result, "notification", exc)
    try:
        _expired_sessions_clear()
    except Exception as exc:  # noqa: BLE001
        _step_failed(result, "session clean-up", exc)
    try:
        daily_counts_log(today=timezone.now().astimezone(UTC).date(), spool_waiting=_waiting())
    except Exception as exc:  # noqa: BLE001
        _step_failed(result, "daily counts", exc)
    return result


def _waiting() -> int | None:
    try:
        return spool_waiting()
    except Exception:  # noqa: BLE001 - the counts are logged without it
        return None


def _expired_sessions_clear() -> None:
    # An expired staff session row still holds a sealed private key: useless
    # without the cookie that died with it, but there is no reason to keep it.
    engine = import_module(settings.SESSION_ENGINE)
    engine.SessionStore.clear_expired()


def _step_failed(result: DailyResult, step: str, exc: Exception) -> None:
    # The exception's type only: a message could quote a row or a file name.
    logger.error("daily maintenance: the %s failed (%s)", step, type(exc).__name__)
    result.failed.append(step)


def _daily_notification() -> int | None:
    if not settings.TIPLINE_NOTIFY_EMAIL:
        return None
    try:
        from tipline.retention.notify import daily_notification_send
    except ModuleNotFoundError as exc:
        if exc.name != "tipline.retention.notify":
            raise
        logger.warning("daily maintenance: the reminder is on but this version cannot send it")
        return None
    return daily_notification_send()


# --- The embedded default: once a day, whichever worker comes first ---------------------------


def daily_run_due(now: datetime) -> bool:
    return now.astimezone(UTC).hour >= settings.TIPLINE_DAILY_RUN_HOUR


def daily_run_if_due(*, now: datetime | None = None, data_dir: Path | None = None) -> bool:
    """Run the day's maintenance unless it is too early, running elsewhere, or done today."""
    now = now or timezone.now()
    if not daily_run_due(now):
        return False
    today = now.astimezone(UTC).date().isoformat()
    folder = Path(data_dir or settings.DATA_DIR)
    descriptor = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # another worker is at it
        if _last_run_day(folder) == today:
            return False
        result = daily_maintenance_run()
        _last_run_day_record(folder, today)
        logger.info(
            "daily maintenance done%s",
            f" (failed: {', '.join(result.failed)})" if result.failed else "",
        )
        return True
    finally:
        os.close(descriptor)  # releases the lock


def _last_run_day(folder: Path) -> str:
    try:
        return (folder / LAST_RUN_FILE).read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return ""


def _last_run_day_record(folder: Path, day: str) -> None:
    temporary = folder / f"{LAST_RUN_FILE}.tmp"
    # A leftover from a run killed mid-write is replaced, never written into.
    with os.fdopen(private_file_create(temporary, replace=True), "w", encoding="ascii") as handle:
        handle.write(day + "\n")
    os.replace(temporary, folder / LAST_RUN_FILE)


def _under_tests() -> bool:
    return "pytest" in sys.modules


def process_start_prepare() -> None:
    """Once per web process, at start: what no tip may be the first to do (docs/arrivals.md).

    The storage's folders and the resumable uploads' spool folder are made
    (a folder's birth time would date the first tip that made it), the SQLite
    database is held open (its -wal and -shm files would be born again at the
    next request, a tip) and, where this process cleans files itself (no
    broker), the pipeline key is read once (its access time would date the
    first file cleaned).
    """
    from sqlite3 import Error as SQLiteError

    from tipline.intake.resumable import spool_dir
    from tipline.keyring import KeyringError, pipeline_private_key
    from tipline.storage import storage_folders_prepare

    try:
        storage_folders_prepare()
        spool_dir()
        sqlite_wal_keep()
        if settings.CELERY_TASK_ALWAYS_EAGER:
            pipeline_private_key()
    except (OSError, SQLiteError, KeyringError) as exc:  # the first tip does it: no worse
        logger.warning("arrivals: the start-up preparation failed (%s)", type(exc).__name__)


def daily_runner_start(stop: threading.Event | None = None) -> threading.Thread | None:
    """Start this process's thread: the daily run and the arrivals' batch (no broker), or
    with a broker only this host's file times at each window's end (beat sends the rest).

    ``stop``, when set, ends the thread at its next wake-up (tests; the web server just exits).
    """
    process_start_prepare()
    if _under_tests():
        return None  # tests run the maintenance themselves, when they mean to
    if not 0 <= settings.TIPLINE_DAILY_RUN_HOUR <= 23:
        logger.error("TIPLINE_DAILY_RUN_HOUR must be 0 to 23: the daily maintenance will not run")
        return None
    local_only = bool(settings.CELERY_BROKER_URL)
    thread = threading.Thread(
        target=_runner_loop,
        args=(stop or threading.Event(),),
        kwargs={"local_only": local_only},
        name="tipline-daily",
        daemon=True,
    )
    thread.start()
    if local_only:
        logger.info(
            "arrivals: this process sets its file times back at the end of every %d-minute "
            "window; Celery beat sends the batch and the daily run",
            settings.TIPLINE_ARRIVAL_BATCH_MINUTES,
        )
        return thread
    logger.info(
        "daily maintenance: this process checks every %d minutes (after %02d:00 UTC, once a day); "
        "the arrivals' batch runs at the end of every %d-minute window",
        CHECK_EVERY_SECONDS // 60,
        settings.TIPLINE_DAILY_RUN_HOUR,
        settings.TIPLINE_ARRIVAL_BATCH_MINUTES,
    )
    return thread


def arrivals_batch_check(*, local_only: bool = False) -> None:
    """The thread's batch at a window's end: the whole batch, or only this host's file times."""
    try:
        if local_only:
            local_times_coarsen()
        else:
            arrivals_settle_scheduled()
    except Exception as exc:  # noqa: BLE001 - the next window's batch takes everything again
        logger.error("arrivals: the batch could not run (%s)", type(exc).__name__)
    finally:
        connections.close_all()  # this thread's connections only


def seconds_until_next_check(now: datetime) -> float:
    """Ten minutes at most; less when a window ends sooner (then just after its end)."""
    until_batch = next_batch_at(now) - now + timedelta(seconds=BATCH_DELAY_SECONDS)
    return max(min(CHECK_EVERY_SECONDS, until_batch.total_seconds()), 0)


def pipeline_key_rotation_check() -> bool:
    """The embedded default's rotation of the pipeline key: the web process is the worker here.

    At every wake-up; it rotates only once the key is TIPLINE_PIPELINE_KEY_HOURS
    old, and the key files' lock makes the web processes agree (tipline/pipeline_key.py).
    """
    try:
        return pipeline_key_rotate_if_due(actor=SYSTEM_ACTOR) is not None
    except Exception as exc:  # noqa: BLE001 - the next wake-up tries again
        logger.error("the pipeline key could not be rotated (%s)", type(exc).__name__)
        return False


def _runner_loop(stop: threading.Event, *, local_only: bool = False) -> None:
    if stop.wait(FIRST_CHECK_AFTER_SECONDS):
        return
    batched: datetime | None = None  # the window whose end this process has batched
    while True:
        window = batch_start(timezone.now())
        if window != batched:
            # The first time, at start: whatever waited through a restart goes now.
            arrivals_batch_check(local_only=local_only)
            batched = window
        if not local_only:
            try:
                pipeline_key_rotation_check()
                daily_run_if_due()
            except Exception as exc:  # noqa: BLE001 - the thread must live on to try again
                logger.error("daily maintenance could not run (%s)", type(exc).__name__)
            finally:
                connections.close_all()  # this thread's connections only
        if stop.wait(seconds_until_next_check(timezone.now())):
            return
