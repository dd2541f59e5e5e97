"""What the benchmarks that need Django share: settings for a throw-away installation."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def django_setup(data_dir: Path, database_url: str | None = None) -> None:
    """Django on ``data_dir`` (and ``database_url`` if given), tasks in-process, quiet logs."""
    os.environ["TIPLINE_DATA_DIR"] = str(data_dir)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    from config.bootstrap import prepare_data_dir

    prepare_data_dir()  # as manage.py does: the data dir and its generated key
    django.setup()


def ensure_postgres_database(database_url: str) -> None:
    """Create the database named in ``database_url`` if it does not exist (psycopg)."""
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    server = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def grants_bulk_create(tips: list, keys: list[bytes], recipients: list) -> None:
    """Wrap each tip's key to every recipient, as the intake does, in one INSERT."""
    from tipline.crypto import PublicKey
    from tipline.keyring import tip_key_wrap
    from tipline.models import Grant

    public_keys = [PublicKey.from_bytes(bytes(r.public_key)) for r in recipients]
    Grant.objects.bulk_create(
        Grant(
            tip=tip,
            recipient=recipient,
            wrapped_key=tip_key_wrap(tip=tip, tip_key=key, public_key=public),
        )
        for tip, key in zip(tips, keys, strict=True)
        for recipient, public in zip(recipients, public_keys, strict=True)
    )


def bench_recipients(*usernames: str, password: str) -> list:
    """A recovery key and one editor per name, as the benchmarks' tips are granted to.

    Returns the recovery key's recipient row, then each editor's user.
    """
    from tipline.accounts.services import editor_create
    from tipline.audit import COMMAND_LINE_ACTOR
    from tipline.keyring import recovery_key_create

    recovery = recovery_key_create(
        actor=COMMAND_LINE_ACTOR,
        deliver=lambda armored: None,
        passphrase="benchmark recovery passphrase",
    ).recipient
    users = [
        editor_create(actor=COMMAND_LINE_ACTOR, username=name, password=password).user
        for name in usernames
    ]
    return [recovery, *users]
