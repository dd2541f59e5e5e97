"""Issue 13, item 1: once a batch has passed, nothing on disk dates a tip to its second.

The attack: seize the server, read every file's four times (access, change,
modification, birth), the fan-out folders' times, the cache files and the
log, and match them to network logs. Each test drives the real parts: the
source form, the in-process pipeline, the local storage on ext4, the
shipped memory cache, the staff download view, `manage.py settle_arrivals`.
tests/integration/test_arrival_times.py does the same against SeaweedFS.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

import config.settings as shipped_settings
from tests.arrivals_support import settle_everything
from tests.intake.helpers import form_token_of, submit_tip
from tests.triage.helpers import jpeg_bytes, signed_in_client, staff_account_create
from tipline.audit import COMMAND_LINE_ACTOR
from tipline.intake.cache import MemoryFileCache, UnsafeCacheFolder
from tipline.keyring import pipeline_key_ensure, pipeline_private_key
from tipline.models import Attachment, Tip
from tipline.retention import settle as settle_module
from tipline.retention.purge import tips_purge_expired
from tipline.retention.scheduler import daily_maintenance_run, process_start_prepare
from tipline.retention.settle import arrivals_settle_scheduled, batch_start
from tipline.retention.sweep import uploads_sweep
from tipline.storage import (
    blob_exists,
    delete_blob,
    forget_marker_of,
    new_blob_name,
    open_blob_for_read,
    read_blob,
    spool_name_of,
    write_blob,
)
from tipline.storage import local as storage_module
from tipline.worker.pipeline import attachment_process

WINDOW_MINUTES = 60
TEXT = "una línea que nadie debe fechar\n".encode() * 400
PICTURE = jpeg_bytes((800, 600))


# --- A server as `make run` has it: its own data dir, the shipped cache -----------------------


@pytest.fixture
def data_dir(tmp_path: Path, settings, recovery_key) -> Path:
    """A fresh data dir holding everything (blobs, pipeline key), prepared as at server start."""
    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    settings.DATA_DIR = folder
    settings.TIPLINE_ARRIVAL_BATCH_MINUTES = WINDOW_MINUTES
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "tipline.storage.BlobFileSystemStorage",
            "OPTIONS": {"location": str(folder / "blobs")},
        },
    }
    settings.TIPLINE_PIPELINE_KEY_FILE = folder / "pipeline.key"
    pipeline_private_key.cache_clear()
    pipeline_key_ensure(actor=COMMAND_LINE_ACTOR)
    yield folder
    pipeline_private_key.cache_clear()


@pytest.fixture
def shipped_cache(settings, data_dir: Path, monkeypatch):
    """The cache config/settings.py ships for this data dir (no CACHE_URL), emptied afterwards."""
    monkeypatch.delenv("CACHE_URL", raising=False)
    monkeypatch.setattr(shipped_settings, "DATA_DIR", data_dir)
    settings.CACHES = {"default": shipped_settings._cache()}
    location = settings.CACHES["default"].get("LOCATION", "")
    yield caches["default"]
    if location.startswith("/dev/shm/"):
        shutil.rmtree(location, ignore_errors=True)


@pytest.fixture
def server_start(monkeypatch):
    """What the web server does at its start (``process_start_prepare``), undone afterwards."""
    monkeypatch.setattr(settle_module, "_wal_keeper", None)
    yield process_start_prepare
    if settle_module._wal_keeper is not None:
        settle_module._wal_keeper.close()


def next_second() -> int:
    """Sleep into a new second (not the first of an hour, which is a window's start)."""
    while True:
        now = time.time()
        time.sleep(1 - now % 1 + 0.01)
        if int(time.time()) % (WINDOW_MINUTES * 60) > 2:
            return int(time.time())


def wait_past(second: int) -> None:
    while time.time() < second + 1:
        time.sleep(0.05)


def four_times(paths: list[Path]) -> dict[Path, tuple[int, int, int, int]]:
    """(atime, mtime, ctime, birth) in whole seconds, as `stat` shows them to anyone."""
    out = subprocess.run(
        ["stat", "--format=%X %Y %Z %W", "--", *map(str, paths)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    return {
        path: tuple(int(v) for v in line.split()) for path, line in zip(paths, out, strict=False)
    }


def every_path(*roots: Path) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        found.append(root)
        for folder, dirs, files in os.walk(root):
            found.extend(Path(folder) / name for name in [*dirs, *files])
    return found


def sqlite_files() -> list[Path]:
    if connection.vendor != "sqlite":
        return []
    name = str(connection.settings_dict["NAME"])
    return [Path(name + s) for s in ("", "-wal", "-shm") if Path(name + s).exists()]


def send(client: Client, files=(("foto.jpg", PICTURE), ("notas.txt", TEXT))) -> Tip:
    page = client.get("/es/")
    response = submit_tip(client, note="lo que vi", files=files, form_token=form_token_of(page))
    assert response.status_code == 200
    return Tip.objects.order_by("-pk").first()


def stored_files(data_dir: Path) -> list[str]:
    root = data_dir / "blobs"
    return sorted(
        p.relative_to(root).as_posix() for p in every_path(root) if p.is_file() and p != root
    )


# --- The whole story ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_after_the_batch_no_time_of_any_path_under_the_data_dir_is_the_arrival_second(
    data_dir: Path, shipped_cache, server_start
) -> None:
    server_start()
    first = next_second()
    tip = send(Client())
    last = int(time.time())
    arrival = set(range(first, last + 1))
    names = {
        name for a in tip.attachments.all() for name in (a.clean_blob, a.thumbnail_blob) if name
    }
    assert all(a.state == Attachment.State.DONE for a in tip.attachments.all())
    assert len(names) == 3  # two cleaned files, one thumbnail
    # Before the batch: everything of the tip is in the spool, nothing under its name.
    assert stored_files(data_dir) == sorted(spool_name_of(name) for name in names)

    wait_past(last + 1)
    call_command("settle_arrivals")

    assert stored_files(data_dir) == sorted(names)
    paths = every_path(data_dir) + sqlite_files()
    times = four_times(paths)
    if times[data_dir][3] == 0:
        pytest.skip("this file system does not report birth times")
    dated = {
        f"{path} ({'atime mtime ctime birth'.split()[i]})"
        for path, values in times.items()
        for i, value in enumerate(values)
        if value in arrival
    }
    assert dated == set(), "a time on disk says when the tip arrived"
    window = WINDOW_MINUTES * 60
    for name in names:
        atime, mtime, ctime, birth = times[data_dir / "blobs" / name]
        assert atime % window == 0 and mtime % window == 0  # its window, all alike
        assert birth > last and ctime > last  # born with the batch, a new file


@pytest.mark.django_db(transaction=True)
def test_a_tip_changes_nothing_under_the_data_dir_but_the_database_and_the_spool(
    data_dir: Path, shipped_cache, server_start
) -> None:
    server_start()
    client = Client()
    page = client.get("/es/")  # the form's token is counted now, in memory
    spool = data_dir / "blobs" / "spool"
    database = set(sqlite_files())

    def snapshot() -> dict[Path, tuple[int, int, int, int]]:
        paths = [p for p in every_path(data_dir) if p.parent != spool and p not in database]
        return {
            p: (s.st_atime_ns, s.st_mtime_ns, s.st_ctime_ns, s.st_ino)
            for p in paths
            for s in [os.lstat(p)]
        }

    before = snapshot()
    time.sleep(0.05)
    files = [("foto.jpg", PICTURE), ("notas.txt", TEXT)]
    response = submit_tip(client, note="n", files=files, form_token=form_token_of(page))
    assert response.status_code == 200
    assert Attachment.objects.filter(state=Attachment.State.DONE).count() == 2
    after = snapshot()

    changed = sorted(str(p) for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    assert changed == [str(spool)], "only the spool (and the database) may change at a tip"
    assert not (data_dir / "cache").exists()


@pytest.mark.django_db(transaction=True)
def test_the_database_s_log_files_are_not_born_again_at_a_tip(open_tipline, server_start) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's own files")
    wal, shm = (Path(str(connection.settings_dict["NAME"]) + s) for s in ("-wal", "-shm"))
    connections.close_all()  # nothing else holds the database open now
    server_start()
    born = four_times([wal, shm])
    next_second()
    send(Client())
    connections.close_all()  # as Django does after every request
    assert wal.exists() and shm.exists(), "deleted with the last connection"
    after = four_times([wal, shm])
    assert [after[p][3] for p in (wal, shm)] == [born[p][3] for p in (wal, shm)]  # birth


# --- Reading is the same before and after the batch ---------------------------------------------


@pytest.mark.django_db
def test_an_editor_reads_a_file_the_same_from_the_spool_and_from_storage(
    open_tipline, blob_storage: Path
) -> None:
    editor = staff_account_create("ana")
    tip = send(Client())
    browser = signed_in_client(editor)
    urls = [f"/staff/tips/{tip.reference}/files/{n}/" for n in (1, 2)]
    urls.append(f"/staff/tips/{tip.reference}/files/1/thumbnail/")

    def downloads() -> list[bytes]:
        result = []
        for url in urls:
            response = browser.get(url, {"confirm": "1"})
            assert response.status_code == 200, url
            streamed = getattr(response, "streaming_content", None)
            result.append(b"".join(streamed) if streamed is not None else response.content)
        return result

    clean = tip.attachments.get(position=1).clean_blob
    assert (blob_storage / spool_name_of(clean)).exists() and not (blob_storage / clean).exists()
    from_the_spool = downloads()
    assert from_the_spool[1] == TEXT

    settle_everything()
    assert not (blob_storage / spool_name_of(clean)).exists() and (blob_storage / clean).exists()
    assert downloads() == from_the_spool


@pytest.mark.django_db
def test_reading_a_stored_blob_does_not_set_its_access_time(open_tipline, blob_storage) -> None:
    send(Client())
    settle_everything()
    name = Attachment.objects.get(position=1).clean_blob
    path = blob_storage / name
    before = os.stat(path).st_atime_ns  # set back to its window, so an ordinary read would move it
    time.sleep(0.02)
    with open_blob_for_read(name) as handle:
        assert handle.read()
    assert os.stat(path).st_atime_ns == before


# --- A batch cut off, a blob deleted while it is copied -----------------------------------------


def plaintexts(tip: Tip, recovery) -> list[bytes]:
    from tests.triage.test_files import clean_plaintext

    return [clean_plaintext(a, recovery) for a in tip.attachments.order_by("position")]


@pytest.mark.django_db
def test_a_batch_killed_halfway_loses_nothing_and_the_next_one_finishes(
    open_tipline, blob_storage: Path, monkeypatch
) -> None:
    tips = [send(Client()), send(Client(), files=[("b.txt", b"second tip " * 999)])]
    expected = [plaintexts(tip, open_tipline) for tip in tips]
    real_settle, real_unlink = settle_module.spool_entry_settle, os.unlink
    done: list[str] = []

    def killed_on_the_third(entry):
        if len(done) == 2:
            raise SystemExit("worker killed mid-batch")
        done.append(entry.name)
        return real_settle(entry)

    def killed_before_the_spool_copy_goes(path, *args, **kwargs):
        # The copy is stored, its spool copy not yet deleted: both are there.
        if "/spool/" in str(path) and done:
            raise SystemExit("killed between the copy and the deletion")
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(settle_module, "spool_entry_settle", killed_on_the_third)
    with pytest.raises(SystemExit):
        settle_everything()
    monkeypatch.setattr(settle_module, "spool_entry_settle", real_settle)
    monkeypatch.setattr(storage_module.os, "unlink", killed_before_the_spool_copy_goes)
    done.clear()
    done.append("armed")
    with pytest.raises(SystemExit):
        settle_everything()
    monkeypatch.setattr(storage_module.os, "unlink", real_unlink)

    both = [n for n in names_of(tips) if (blob_storage / n).exists()]
    assert both, "the cut-off batches stored some blobs"
    assert [plaintexts(tip, open_tipline) for tip in tips] == expected  # readable meanwhile

    summary = settle_everything()
    assert summary.settled >= 1
    assert list((blob_storage / "spool").iterdir()) == []
    assert all((blob_storage / name).exists() for name in names_of(tips))
    assert [plaintexts(tip, open_tipline) for tip in tips] == expected


def names_of(tips: list[Tip]) -> list[str]:
    return [
        name
        for tip in tips
        for a in tip.attachments.all()
        for name in (a.clean_blob, a.thumbnail_blob)
        if name
    ]


@pytest.mark.django_db
def test_a_blob_deleted_while_its_batch_copies_it_leaves_no_copy(
    open_tipline, blob_storage: Path, monkeypatch
) -> None:
    name = new_blob_name("clean")
    write_blob(name, b"ciphertext of a tip being purged" * 100)
    real_copy = storage_module._copy_file

    def purged_meanwhile(reader: int, writer: int) -> None:
        real_copy(reader, writer)
        assert delete_blob(name)  # the purge, at the same moment

    monkeypatch.setattr(storage_module, "_copy_file", purged_meanwhile)
    summary = settle_everything()
    assert summary.settled == 0
    assert not blob_exists(name) and not (blob_storage / name).exists()


# --- Deletions an arrival causes wait for the batch -----------------------------------------------


@pytest.mark.django_db
def test_a_raw_blob_stored_before_cleaning_is_deleted_by_the_next_batch_not_at_once(
    open_tipline, blob_storage: Path, monkeypatch
) -> None:
    monkeypatch.setattr("tipline.worker.tasks.process_attachment.delay", lambda *a, **k: None)
    send(Client(), files=[("notas.txt", TEXT)])
    attachment = Attachment.objects.get()
    raw = attachment.raw_blob
    settle_everything()  # the worker was down: the raw upload is stored under its name
    folder = (blob_storage / raw).parent
    folder_times = (os.stat(folder).st_mtime_ns, os.stat(folder).st_ctime_ns)

    time.sleep(0.02)
    attachment_process(attachment_id=attachment.pk)  # cleaned now: the raw blob must go

    assert Attachment.objects.get().raw_blob == ""
    assert (blob_storage / raw).exists()  # not yet: deleting it now would date this moment
    assert (os.stat(folder).st_mtime_ns, os.stat(folder).st_ctime_ns) == folder_times
    assert (blob_storage / forget_marker_of(raw)).exists()
    summary = settle_everything()
    assert summary.forgotten == 1
    assert not (blob_storage / raw).exists() and not (blob_storage / forget_marker_of(raw)).exists()


@pytest.mark.django_db
def test_the_purge_deletes_a_tip_s_blobs_in_the_spool_and_in_storage(open_tipline, blob_storage):
    tip = send(Client())
    settle_everything()
    rewritten = tip.attachments.get(position=1).clean_blob
    write_blob(rewritten, read_blob(rewritten))  # a retried step: a newer copy in the spool
    Tip.objects.filter(pk=tip.pk).update(status=Tip.Status.DISCARDED)

    summary = tips_purge_expired(as_of=timezone.localdate() + timedelta(days=400))

    assert summary.tips_deleted == 1
    assert [p for p in blob_storage.rglob("*") if p.is_file()] == []


@pytest.mark.django_db
def test_the_sweep_leaves_waiting_blobs_and_takes_old_orphans_from_the_spool(
    open_tipline, blob_storage: Path
) -> None:
    tip = send(Client())
    waiting = [a.clean_blob for a in tip.attachments.all()]
    orphan, young_orphan = new_blob_name("raw"), new_blob_name("raw")
    for name in (orphan, young_orphan):
        write_blob(name, b"an upload cut off before its rows")
    old = time.time() - 100 * 3600
    for name in (*waiting, orphan):
        os.utime(blob_storage / spool_name_of(name), (old, old))

    summary = uploads_sweep(hours=72)

    assert summary.orphans_deleted == 1
    assert not blob_exists(orphan)
    assert all(blob_exists(name) for name in (*waiting, young_orphan))


# --- The schedule ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_window_s_batch_takes_what_arrived_before_its_end_and_no_later(
    open_tipline, blob_storage: Path, settings
) -> None:
    settings.TIPLINE_ARRIVAL_BATCH_MINUTES = WINDOW_MINUTES
    if time.time() % (WINDOW_MINUTES * 60) > WINDOW_MINUTES * 60 - 5:
        time.sleep(6)  # not across a window's end
    name = new_blob_name("clean")
    write_blob(name, b"arrived in this window")

    now = timezone.now()
    assert arrivals_settle_scheduled(now=now).waiting == 1  # this window's: not yet
    assert (blob_storage / spool_name_of(name)).exists()
    later = now + timedelta(minutes=WINDOW_MINUTES)
    assert arrivals_settle_scheduled(now=later).settled == 1  # once its window has ended
    assert (blob_storage / name).exists()
    assert batch_start(later) == datetime.fromtimestamp(
        int(later.timestamp()) // 3600 * 3600, tz=UTC
    )


def test_the_embedded_runner_wakes_just_after_each_window_s_end(settings) -> None:
    from tipline.retention.scheduler import BATCH_DELAY_SECONDS, seconds_until_next_check

    settings.TIPLINE_ARRIVAL_BATCH_MINUTES = 15
    assert seconds_until_next_check(datetime(2026, 5, 1, 10, 14, 0, tzinfo=UTC)) == (
        60 + BATCH_DELAY_SECONDS
    )
    assert seconds_until_next_check(datetime(2026, 5, 1, 10, 0, 1, tzinfo=UTC)) == 600


def test_beat_sends_the_batch_at_every_window_s_end(settings) -> None:
    from config.celery import SETTLE_ARRIVALS_TASK, app, arrivals_crontab

    entry = app.conf.beat_schedule["settle-arrivals"]
    assert entry["task"] == SETTLE_ARRIVALS_TASK
    app.loader.import_default_modules()
    assert SETTLE_ARRIVALS_TASK in app.tasks
    assert arrivals_crontab(60).minute == {0} and len(arrivals_crontab(60).hour) == 24
    assert arrivals_crontab(15).minute == {0, 15, 30, 45}
    assert arrivals_crontab(360).hour == {0, 6, 12, 18}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TIPLINE_ARRIVAL_BATCH_MINUTES": "7"}, "must divide 60"),
        ({"TIPLINE_ARRIVAL_BATCH_MINUTES": "90"}, "must divide 60"),
        ({"TIPLINE_ARRIVAL_BATCH_MINUTES": "0"}, "between 1 and 1440"),
        ({"TIPLINE_ARRIVAL_BATCH_MINUTES": "1441"}, "between 1 and 1440"),
        (
            {"TIPLINE_ARRIVAL_BATCH_MINUTES": "1440", "TIPLINE_ABANDONED_UPLOAD_HOURS": "47"},
            "at least two arrival windows",
        ),
    ],
)
def test_a_window_the_schedule_cannot_keep_stops_the_start(tmp_path, env, message) -> None:
    from tests.test_settings import run_manage

    result = run_manage("check", env_extra=env, data_dir=tmp_path)
    assert result.returncode != 0 and message in result.stderr, result.stderr


# --- Logs: no line per tip or file; one line of counts a day ------------------------------------


@pytest.mark.django_db
def test_no_log_line_at_info_or_above_per_tip_or_file_and_a_daily_line_of_counts(
    open_tipline, caplog
) -> None:
    from celery import current_app

    caplog.set_level(logging.INFO)
    # As in a process that has sent nothing yet: its first tip takes Celery's first producer.
    current_app._pool = None
    current_app.amqp._producer_pool = None
    broken_picture = PICTURE[: len(PICTURE) // 2]
    tip = send(Client(), files=[("a.jpg", PICTURE), ("b.txt", TEXT), ("c.jpg", broken_picture)])
    assert {a.state for a in tip.attachments.all()} == {Attachment.State.DONE}
    loud = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.INFO]
    assert loud == [], "a line per tip or file dates it in the journal"

    Tip.objects.filter(pk=tip.pk).update(received_on=tip.received_on - timedelta(days=1))
    caplog.clear()
    assert daily_maintenance_run().failed == []
    day = (tip.received_on - timedelta(days=1)).date().isoformat()
    counts = [r.getMessage() for r in caplog.records if "daily counts" in r.getMessage()]
    assert counts == [
        f"daily counts for {day}: 1 tips and 3 files received; 1 cleaned, 2 stored as sent, "
        "0 failed, 0 not processed yet; 4 blobs in the spool"
    ]


def test_the_shipped_logging_silences_celery_s_line_per_task() -> None:
    for name in ("celery.app.trace", "celery.worker.strategy"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
        assert logging.getLogger(name).isEnabledFor(logging.WARNING), name


# --- The memory cache ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_shipped_cache_lives_in_memory_in_a_folder_of_its_own(data_dir, shipped_cache) -> None:
    assert isinstance(shipped_cache, MemoryFileCache)
    folder = Path(shipped_cache._dir)
    assert not folder.exists()  # configuring it makes nothing (`manage.py check`)
    assert folder.parent == Path("/dev/shm") and re.fullmatch(r"tipline-[0-9a-f]{32}", folder.name)
    shipped_cache.set("k", 1, 1)
    shipped_cache.set("kept", 1, 3600)
    info = os.lstat(folder)
    assert oct(info.st_mode & 0o777) == "0o700" and info.st_uid == os.geteuid()
    time.sleep(1.1)
    assert shipped_cache.clear_expired() == 1
    assert shipped_cache.get("kept") == 1


@pytest.mark.parametrize("planted", ["open to others", "a link"])
def test_a_cache_folder_planted_by_someone_else_is_never_read(tmp_path, planted) -> None:
    location = tmp_path / "tipline-cache"
    if planted == "open to others":
        location.mkdir(mode=0o777)
        location.chmod(0o777)
    else:
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        location.symlink_to(tmp_path / "elsewhere")
    cache = MemoryFileCache(str(location), {})
    for use in (lambda: cache.get("k"), lambda: cache.add("k", 1), lambda: cache.clear_expired()):
        with pytest.raises(UnsafeCacheFolder):  # before anything is unpickled from it
            use()


@pytest.mark.django_db
def test_tipline_status_says_what_waits_and_warns_without_a_shared_cache(
    open_tipline, settings
) -> None:
    from io import StringIO

    write_blob(new_blob_name("raw"), b"waiting")
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    out = StringIO()
    call_command("tipline_status", stdout=out)
    assert "Arrivals: 1 blob(s) wait in the spool; the next batch at" in out.getvalue()
    assert "No memory file system" in out.getvalue()


@pytest.mark.django_db
def test_with_a_planted_cache_folder_a_tip_still_arrives(open_tipline, settings, tmp_path) -> None:
    planted = tmp_path / "planted"
    planted.mkdir(mode=0o777)
    planted.chmod(0o777)
    settings.CACHES = {
        "default": {"BACKEND": "tipline.intake.cache.MemoryFileCache", "LOCATION": str(planted)}
    }
    tip = send(Client(), files=[("notas.txt", TEXT)])
    assert tip is not None and tip.attachments.get().state == Attachment.State.DONE
    assert list(planted.iterdir()) == []  # nothing written to, nothing read from it


def test_the_memory_cache_makes_its_folder_again_when_it_was_removed(tmp_path) -> None:
    location = tmp_path / "tipline-cache"
    cache = MemoryFileCache(str(location), {})
    cache.set("k", 1, 60)
    shutil.rmtree(location)  # a clean-up of /dev/shm while the server runs
    cache.set("k", 2, 60)
    assert cache.get("k") == 2 and oct(location.stat().st_mode & 0o777) == "0o700"
