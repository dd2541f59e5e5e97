"""Purge 10,000 expired tips with files on the local file system, next to deleting plain files.

    .venv/bin/python bench/purge.py [--tips 10000] [--blob-kib 16]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tipline_bench .venv/bin/python bench/purge.py

Sets up a fresh data directory (SQLite in it, or the PostgreSQL database of
``DATABASE_URL``, created if missing), and fills it with expired tips made the
real way: a random tip key, the note encrypted under it, the key wrapped by
HPKE to an editor and to the recovery key, and one file per tip stored as two
encrypted blobs through the storage API (the cleaned file and its thumbnail,
fsynced like every blob). Next to them, in a separate folder, as many plain
files as there are blobs, written the same way.

Then it times, in the same run:

- ``manage.py purge_expired`` deleting every tip: grants, blobs, rows and one
  audit entry per tip, in batches of ``TIPLINE_PURGE_BATCH_SIZE``;
- ``os.unlink`` of the plain files, the floor for deleting that many files;

and prints both, with the time the purge spent in the storage's delete calls
(in its storage thread, overlapping the SQL work), their ratio for the
database used (the target is at most 2.0, on SQLite and on PostgreSQL), and
the SQL queries per tip. The last line, ``result: ...``, sums the run up in
key=value pairs. The machine's other load moves both times: run it more than once.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._django import (  # noqa: E402
    bench_recipients,
    django_setup,
    ensure_postgres_database,
    grants_bulk_create,
)

SEED_BATCH = 500
# The purge may take at most this many times as long as unlinking as many plain files.
TARGET_RATIO = 2.0
PASSWORD = "benchmark editor password 1"


def start_empty(database_url: str | None) -> None:
    """The benchmark deletes everything it made: never run it on a database that holds tips."""
    from django.contrib.auth import get_user_model

    from tipline.models import AuditEntry, Grant, RecipientKey, Tip

    if Tip.objects.exists() or AuditEntry.objects.exists():
        name = (database_url or "").rsplit("/", 1)[-1]
        if "bench" not in name:
            sys.exit(f"refusing: database {name!r} is in use (give one whose name has 'bench')")
    for model in (Grant, Tip, AuditEntry, RecipientKey, get_user_model()):
        model.objects.all().delete()


def seed(count: int, blob_kib: int, changed_on: date) -> list[str]:
    """``count`` expired tips with one file each (clean blob + thumbnail); returns the blob names."""
    from django.db import transaction

    from tipline.models import RecipientKey

    recovery, editor = bench_recipients("bench", password=PASSWORD)
    recipients = [RecipientKey.objects.get(user=editor), recovery]
    payload = secrets.token_bytes(blob_kib * 1024)
    names: list[str] = []
    started = time.perf_counter()
    for first in range(0, count, SEED_BATCH):
        with transaction.atomic():
            names += _seed_batch(min(SEED_BATCH, count - first), recipients, payload, changed_on)
        done = min(first + SEED_BATCH, count)
        print(f"\rseeded {done}/{count} tips ({time.perf_counter() - started:.0f} s)", end="")
    print()
    return names


def _seed_batch(size, recipients, payload: bytes, changed_on: date) -> list[str]:
    from datetime import UTC, datetime
    from datetime import time as day_time

    from tipline.crypto import encrypt_bytes, new_tip_key
    from tipline.models import Attachment, Tip
    from tipline.sealed import Part, attachment_name_seal, attachment_object_id, tip_content_seal
    from tipline.storage import new_blob_name, write_blob

    received = datetime.combine(changed_on, day_time(0), tzinfo=UTC)
    tips, keys = [], []
    for _ in range(size):
        tip = Tip(
            status="discarded",
            received_on=received,
            status_changed_on=changed_on,
            file_count=1,
            content_sealed=b"",
        )
        key = new_tip_key()
        tip.content_sealed = tip_content_seal(tip=tip, tip_key=key, note="benchmark", links=[])
        tips.append(tip)
        keys.append(key)
    Tip.objects.bulk_create(tips)
    attachments, names = [], []
    for tip, key in zip(tips, keys, strict=True):
        attachment = Attachment(
            tip=tip,
            position=0,
            received_size=len(payload),
            stored_size=len(payload),
            state=Attachment.State.DONE,
            clean_blob=new_blob_name("clean"),
            thumbnail_blob=new_blob_name("thumbnail"),
        )
        attachment_name_seal(attachment, "photo.jpg", tip_key=key)
        for name, part in (
            (attachment.clean_blob, Part.CLEAN),
            (attachment.thumbnail_blob, Part.THUMBNAIL),
        ):
            write_blob(
                name,
                encrypt_bytes(
                    payload, tip_key=key, object_id=attachment_object_id(attachment, part)
                ),
            )
            names.append(name)
        attachments.append(attachment)
    Attachment.objects.bulk_create(attachments)
    grants_bulk_create(tips, keys, recipients)
    return names


def vacuum() -> None:
    """On PostgreSQL, what autovacuum does on a live server before the daily purge.

    Tips are due months after they arrive, so the planner has statistics for
    them; just seeded (or on a reused database whose tables the last run
    emptied), it has none, guesses the grants table a hundred times too big
    and compiles its DELETEs with JIT. SQLite keeps no statistics unless asked.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def plain_files(root: Path, count: int, size: int) -> list[Path]:
    """``count`` files of ``size`` bytes, fanned out and fsynced like blobs (same writer)."""
    from tipline.storage import BlobFileSystemStorage, new_blob_name

    storage = BlobFileSystemStorage(location=str(root))
    paths = []
    data = secrets.token_bytes(size)
    for _ in range(count):
        name = new_blob_name("clean")
        with storage.open(name, "wb") as handle:
            handle.write(data)
        paths.append(Path(storage.path(name)))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tips", type=int, default=10_000)
    parser.add_argument("--blob-kib", type=int, default=16, help="plaintext size of each blob")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL")
    if database_url:
        ensure_postgres_database(database_url)
    data_dir = Path(tempfile.mkdtemp(prefix="tipline-bench-purge-"))
    try:
        django_setup(data_dir)
        run(args, database_url, data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def run(args, database_url: str | None, data_dir: Path) -> None:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from tipline.models import AuditEntry, Tip

    call_command("migrate", verbosity=0)
    start_empty(database_url)
    changed_on = date.today() - timedelta(days=3650)
    names = seed(args.tips, args.blob_kib, changed_on)
    vacuum()
    blob_root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    blob_size = (blob_root / names[0]).stat().st_size
    plain = plain_files(data_dir / "plain", len(names), blob_size)
    print(
        f"{args.tips} tips, {len(names)} blobs of {blob_size} bytes on {connection.vendor}; "
        f"{len(plain)} plain files of the same size; batch {settings.TIPLINE_PURGE_BATCH_SIZE}\n"
    )

    from tipline.retention import purge

    queries = 0
    storage_seconds = 0.0
    real_delete_blob = purge.delete_blob

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    def timed_delete_blob(name: str) -> bool:
        nonlocal storage_seconds
        started = time.perf_counter()
        try:
            return real_delete_blob(name)
        finally:
            storage_seconds += time.perf_counter() - started

    purge.delete_blob = timed_delete_blob
    try:
        with connection.execute_wrapper(count), open(os.devnull, "w") as quiet:
            started = time.perf_counter()
            call_command("purge_expired", stdout=quiet)
            purge_seconds = time.perf_counter() - started
    finally:
        purge.delete_blob = real_delete_blob
    assert not Tip.objects.exists(), "tips left after the purge"
    assert not any((blob_root / name).exists() for name in names), "blobs left after the purge"
    assert AuditEntry.objects.filter(action="tip_deleted").count() == args.tips

    started = time.perf_counter()
    for path in plain:
        os.unlink(path)
    unlink_seconds = time.perf_counter() - started

    print(f"{'what':<44} {'seconds':>8} {'per tip ms':>11}")
    print(
        f"{'purge_expired (grants, blobs, rows, audit)':<44} {purge_seconds:>8.2f} "
        f"{purge_seconds * 1000 / args.tips:>11.3f}"
    )
    print(
        f"{'  in the storage calls (overlapping the SQL)':<44} {storage_seconds:>8.2f} "
        f"{storage_seconds * 1000 / args.tips:>11.3f}"
    )
    print(
        f"{f'os.unlink of {len(plain)} plain files':<44} {unlink_seconds:>8.2f} "
        f"{unlink_seconds * 1000 / args.tips:>11.3f}"
    )
    ratio = purge_seconds / unlink_seconds
    print(
        f"\nratio purge / plain unlink on {connection.vendor}: {ratio:.2f}x "
        f"({'within' if ratio <= TARGET_RATIO else 'over'} the target of {TARGET_RATIO:.1f}x); "
        f"SQL queries: {queries} ({queries / args.tips:.2f} per tip)"
    )
    print(
        f"result: database={connection.vendor} tips={args.tips} blobs={len(names)} "
        f"batch={settings.TIPLINE_PURGE_BATCH_SIZE} purge_s={purge_seconds:.2f} "
        f"storage_s={storage_seconds:.2f} unlink_s={unlink_seconds:.2f} ratio={ratio:.2f} queries_per_tip={queries / args.tips:.2f}"
    )


if __name__ == "__main__":
    main()
