"""On SQLite every connection overwrites what it deletes, not only the purge's.

A deleted grant is a wrapped tip key: left in a free page of the database file,
an editor's password (or the recovery key, or a pipeline key) opens it again.
The worker deletes the pipeline grant of every tip it finishes, from an
ordinary connection, so ``secure_delete`` must be on for all of them.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from tests.intake.helpers import submit_tip
from tests.test_settings import run_manage
from tipline.models import Attachment, Grant, RecipientKey
from tipline.worker.tasks import process_attachment

pytestmark = pytest.mark.django_db(transaction=True)

# SQLite's default for secure_delete is a build option: Debian's library turns
# it on, python.org's and most others leave it off. Every test here runs as on
# a build where it is off, so only the tip line's own setting can turn it on.
_CONNECT_AS_IF_BUILT_WITHOUT_IT = """
import sqlite3.dbapi2 as sqlite

_connect = sqlite.connect


def connect_as_if_built_without_it(*args, **kwargs):
    made = _connect(*args, **kwargs)
    made.execute("PRAGMA secure_delete = OFF")
    return made


sqlite.connect = connect_as_if_built_without_it
"""


@pytest.fixture(autouse=True)
def sqlite_built_without_secure_delete(monkeypatch) -> None:
    import sqlite3.dbapi2 as sqlite

    namespace: dict = {}
    exec(_CONNECT_AS_IF_BUILT_WITHOUT_IT, namespace)  # defines and installs the wrapper
    monkeypatch.setattr(sqlite, "connect", namespace["connect_as_if_built_without_it"])
    connection.close()  # the next query connects through it


def sqlite_only() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's secure_delete only")


def test_a_requests_own_connection_has_secure_delete_on(open_tipline) -> None:
    sqlite_only()
    seen: dict[str, object] = {}

    def serve_one_request() -> None:
        # A new thread: the request opens a connection of its own, as a web
        # server's thread does, with nothing set up by the test.
        from django.db import connection as this_threads

        try:
            seen["status"] = Client().get("/es/").status_code
            seen["opened_by_the_request"] = this_threads.connection is not None
            with this_threads.cursor() as cursor:
                cursor.execute("PRAGMA secure_delete")
                seen["secure_delete"] = cursor.fetchone()[0]
        finally:
            this_threads.close()

    thread = threading.Thread(target=serve_one_request)
    thread.start()
    thread.join()
    assert seen == {"status": 200, "opened_by_the_request": True, "secure_delete": 1}


def test_a_database_url_for_sqlite_gets_it_too(tmp_path: Path) -> None:
    show = _CONNECT_AS_IF_BUILT_WITHOUT_IT + (
        "from django.db import connection as c\n"
        "c.close()\n"
        "cur = c.cursor()\n"
        "cur.execute('PRAGMA secure_delete')\n"
        "print(cur.fetchone()[0])\n"
    )
    result = run_manage(
        "shell",
        "-v",
        "0",
        "-c",
        show,
        env_extra={"DATABASE_URL": f"sqlite:///{tmp_path / 'other.sqlite3'}"},
        data_dir=tmp_path / "d",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1"]


def test_the_pipeline_grant_a_worker_deletes_does_not_stay_in_the_database_file(
    client: Client, open_tipline, monkeypatch
) -> None:
    sqlite_only()
    monkeypatch.setattr("tipline.worker.tasks.process_attachment.delay", lambda *a, **k: None)
    submit_tip(client, note="n", files=[("a.txt", b"some text " * 100)])
    grant = Grant.objects.get(recipient__kind=RecipientKey.Kind.PIPELINE)
    wrapped = bytes(grant.wrapped_key)[-48:]
    database = Path(connection.settings_dict["NAME"])

    def on_disk() -> bytes:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        wal = database.with_name(database.name + "-wal")
        return database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    assert wrapped in on_disk()
    # The worker's ordinary path: no purge, nothing that turns secure_delete on by itself.
    connection.close()
    process_attachment.apply(args=[Attachment.objects.get().pk]).get()
    assert not Grant.objects.filter(recipient__kind=RecipientKey.Kind.PIPELINE).exists()
    assert wrapped not in on_disk()
