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

and prints both, their ratio, and the SQL queries per tip.
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

from bench._django import django_setup, ensure_postgres_database, grants_bulk_create  # noqa: E402

SEED_BATCH = 500
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

    from tipline.keyring import recovery_key_create
    from tipline.models import RecipientKey
    from tipline.triage.accounts import editor_create

    recovery = recovery_key_create(passphrase="benchmark recovery passphrase").recipient
    editor = editor_create(username="bench", password=PASSWORD).user
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
        tip.content_sealed = encrypt_bytes(
            b'{"note": "benchmark", "links": []}', tip_key=key, object_id=tip.object_id("content")
        )
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
        attachment.name_sealed = encrypt_bytes(
            b"photo.jpg", tip_key=key, object_id=attachment.object_id("name")
        )
        for name, part in (
            (attachment.clean_blob, "clean"),
            (attachment.thumbnail_blob, "thumbnail"),
        ):
            write_blob(
                name, encrypt_bytes(payload, tip_key=key, object_id=attachment.object_id(part))
            )
            names.append(name)
        attachments.append(attachment)
    Attachment.objects.bulk_create(attachments)
    grants_bulk_create(tips, keys, recipients)
    return names


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
    blob_root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    blob_size = (blob_root / names[0]).stat().st_size
    plain = plain_files(data_dir / "plain", len(names), blob_size)
    print(
        f"{args.tips} tips, {len(names)} blobs of {blob_size} bytes on {connection.vendor}; "
        f"{len(plain)} plain files of the same size; batch {settings.TIPLINE_PURGE_BATCH_SIZE}\n"
    )

    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count), open(os.devnull, "w") as quiet:
        started = time.perf_counter()
        call_command("purge_expired", stdout=quiet)
        purge_seconds = time.perf_counter() - started
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
        f"{f'os.unlink of {len(plain)} plain files':<44} {unlink_seconds:>8.2f} "
        f"{unlink_seconds * 1000 / args.tips:>11.3f}"
    )
    print(
        f"\npurge / plain unlink: {purge_seconds / unlink_seconds:.1f}x; "
        f"SQL queries: {queries} ({queries / args.tips:.2f} per tip)"
    )


if __name__ == "__main__":
    main()
