"""No client address, user agent or exact time of a source is kept anywhere.

A source and an editor arrive with distinctive values: REMOTE_ADDR,
X-Forwarded-For and User-Agent. They send a tip with files through the real
form, a second one during a "flood" (the threshold is one tip), the same form
again, a forged form, a CSRF failure and some 404s; the editor fails to
sign in, signs in, looks at the inbox and signs out. Then everything a seized
server would give up is searched for those values: the database (raw file,
its WAL, a dump), every file in the data directory, the blob store and the
cache folder, the captured logs and any mail sent. A self-check plants a
value in each of them and makes sure the same search finds it.
"""

from __future__ import annotations

import logging
import pickle
import re
import sqlite3
import zlib
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections, models

from tests.conftest import all_files_under
from tests.triage.helpers import jpeg_bytes, staff_account_create
from tipline.models import Attachment, AuditEntry, Grant, Tip

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = "198.51.100.23"
FORWARDED = "203.0.113.99"
AGENT = "NoTraceUA/9.9 canary"
TRACES = (ADDRESS, FORWARDED, AGENT, "NoTraceUA")
# For the self-check: never sent by any client.
PLANTED = "192.0.2.222"
PLANTED_AGENT = "PlantedUA/1.0 canary"

TOKEN_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
LOGGERS = (
    None,
    "django",
    "django.request",
    "django.server",
    "django.security",
    "django.security.csrf",
    "django.security.DisallowedHost",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "celery",
    "tipline",
)


def encodings(value: str) -> set[bytes]:
    return {
        value.encode(),
        value.encode("utf-16-le"),
        value.encode("utf-16-be"),
        quote(value).encode(),
        quote(value, safe="").encode(),
        quote_plus(value).encode(),
    }


def needles(*values: str) -> set[bytes]:
    return set().union(*(encodings(value) for value in values))


# --- What a seized server gives up -------------------------------------------------


def database_dump() -> dict[str, bytes]:
    """The raw SQLite file and its WAL/SHM, plus a dump of every table."""
    found: dict[str, bytes] = {}
    for alias in connections:
        connections[alias].close()  # SQLite writes its WAL back into the file
    if connection.vendor == "sqlite":
        name = str(settings.DATABASES["default"]["TEST"]["NAME"])
        for suffix in ("", "-wal", "-shm", "-journal"):
            path = Path(name + suffix)
            if path.exists():
                found[f"file {path}"] = path.read_bytes()
        # URI so the dump never creates or changes anything.
        raw = sqlite3.connect(f"file:{name}?mode=ro", uri=True)
        try:
            found["iterdump"] = "\n".join(raw.iterdump()).encode()
        finally:
            raw.close()
    with connection.cursor() as cursor:
        rows = []
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                rows.append(repr(row).encode())
                rows.extend(bytes(v) for v in row if isinstance(v, bytes | memoryview))
    found["select * from every table"] = b"\n".join(rows)
    # Session data is signed and may be zlib-compressed: search what it decodes to.
    found["sessions, decoded"] = "\n".join(
        repr(session.get_decoded()) for session in Session.objects.all()
    ).encode()
    connection.close()
    return found


def files_under(*roots: Path) -> dict[str, bytes]:
    found = {}
    for path in all_files_under(*roots):
        found[f"file {path}"] = path.read_bytes()
        if path.suffix == ".djcache":
            # Django's file cache: a pickled expiry, then the zlib-compressed pickled value.
            with path.open("rb") as handle:
                pickle.load(handle)
                value = zlib.decompress(handle.read())
            found[f"file {path}, decoded"] = value + repr(pickle.loads(value)).encode()
    return found


def everything(roots: list[Path], caplog) -> dict[str, bytes]:
    searched = {**database_dump(), **files_under(*roots)}
    searched["captured logs"] = caplog.text.encode()
    searched["captured log records"] = "\n".join(
        f"{r.name} {r.getMessage()} {r.__dict__.get('request')!r}" for r in caplog.records
    ).encode()
    searched["mail sent"] = "\n".join(
        f"{m.subject}\n{m.body}\n{m.extra_headers}" for m in mail.outbox
    ).encode()
    return searched


def hits(searched: dict[str, bytes], wanted: set[bytes]) -> list[str]:
    return [
        f"{needle!r} in {where}"
        for where, content in searched.items()
        for needle in wanted
        if needle in content
    ]


# --- The visit -------------------------------------------------------------------------


@pytest.fixture
def roots(settings, tmp_path: Path, blob_storage: Path) -> list[Path]:
    """The shipped cache (files), in this test's folder, and every folder to search."""
    folder = tmp_path / "cache"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(folder),
        }
    }
    settings.TIPLINE_FLOOD_TIPS_PER_HOUR = 1  # the second tip arrives during a "flood"
    cache.clear()
    return [Path(settings.DATA_DIR), tmp_path, blob_storage, folder]


@pytest.fixture
def all_logs(caplog):
    caplog.set_level(logging.DEBUG)
    quiet = []
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
        logger = logging.getLogger(name)
        if name and not logger.propagate:  # e.g. DisallowedHost: nothing reaches root
            logger.addHandler(caplog.handler)
            quiet.append(logger)
    yield caplog
    for logger in quiet:
        logger.removeHandler(caplog.handler)


def visitor(**headers):
    from django.test import Client

    return Client(
        REMOTE_ADDR=ADDRESS,
        HTTP_X_FORWARDED_FOR=FORWARDED,
        HTTP_X_REAL_IP=FORWARDED,
        HTTP_FORWARDED=f"for={FORWARDED}",
        HTTP_USER_AGENT=AGENT,
        enforce_csrf_checks=True,
        **headers,
    )


FORM_TOKEN_FIELD = re.compile(r'name="form_token" value="([^"]+)"')


def send_through_the_form(client, *, note: str, files=(), again: int = 0) -> list[int]:
    """Send a tip through the form, then the same POST ``again`` times (a reload)."""
    page = client.get("/es/")
    assert page.status_code == 200
    token = TOKEN_FIELD.search(page.content.decode()).group(1)
    form_token = FORM_TOKEN_FIELD.search(page.content.decode()).group(1)
    data = {
        "csrfmiddlewaretoken": token,
        "form_token": form_token,
        "note": note,
        "links": "https://example.org/x",
    }
    statuses = []
    for _ in range(1 + again):
        if files:
            data["files"] = [SimpleUploadedFile(name, content) for name, content in files]
        statuses.append(client.post("/es/send/", data).status_code)
    return statuses


def visit(editor) -> None:
    source = visitor()
    files = [("foto.jpg", jpeg_bytes()), ("notas.txt", b"unas notas\n")]
    assert source.post("/es/send/", {"note": "sin token"}).status_code == 403  # CSRF
    assert visitor().post("/en/send/", {"note": "no cookie"}).status_code == 403
    assert send_through_the_form(source, note="Lo que vi", files=files) == [200]
    # Over the threshold: accepted and set apart; the reload says "already received".
    assert send_through_the_form(source, note="Otra vez", again=1) == [200, 200]
    page = source.get("/en/")
    forged = {"csrfmiddlewaretoken": TOKEN_FIELD.search(page.content.decode()).group(1)}
    forged |= {"form_token": "forged", "note": "falso"}
    assert source.post("/en/send/", forged).status_code == 400  # the form again
    for path in ("/es/nada/", "/en/send/nada", "/staff/nothing-here/", "/static/nope.css"):
        assert source.get(path).status_code in (302, 404)
    assert visitor(HTTP_HOST="evil.example").get("/es/").status_code == 400  # DisallowedHost

    staff = visitor(headers={"accept-language": "en"})
    page = staff.get("/staff/login/")
    token = TOKEN_FIELD.search(page.content.decode()).group(1)
    wrong = {**editor.login_data("000000"), "password": "wrong password here"}
    assert staff.post("/staff/login/", {**wrong, "csrfmiddlewaretoken": token}).status_code == 400
    right = {**editor.login_data(), "csrfmiddlewaretoken": token}
    assert staff.post("/staff/login/", right).status_code == 302
    assert staff.get("/staff/").status_code == 200
    token = TOKEN_FIELD.search(staff.get("/staff/").content.decode())
    if token:
        staff.post("/staff/logout/", {"csrfmiddlewaretoken": token.group(1)})


def test_no_address_user_agent_or_exact_time_is_kept(open_tipline, roots, all_logs) -> None:
    editor = staff_account_create("ana")
    visit(editor)

    tip, flood_tip = Tip.objects.order_by("id")
    assert [a.state for a in tip.attachments.all()] == [Attachment.State.DONE] * 2
    assert (tip.arrived_in_flood, flood_tip.arrived_in_flood) == (False, True)
    cache_files = all_files_under(roots[-1])
    assert len(cache_files) >= 4, "flood counters and used-form marks are in the cache folder"
    # Their file times say the hour at most, not when a form was opened or used.
    for path in cache_files:
        info = path.stat()
        assert info.st_mtime % 3600 == 0 and info.st_atime % 3600 == 0, path.name
    assert len(all_files_under(roots[2])) >= 2, "the cleaned blobs (and thumbnail) are searched"

    searched = everything(roots, all_logs)
    assert hits(searched, needles(*TRACES)) == []

    # No time finer than the configured day: every date-time of the tips' rows is midnight.
    assert settings.TIPLINE_RECEIVED_GRANULARITY_HOURS == 24
    for model, rows in (
        (Tip, Tip.objects.all()),
        (Attachment, Attachment.objects.all()),
        (Grant, Grant.objects.all()),
    ):
        stamps = [f.name for f in model._meta.fields if isinstance(f, models.DateTimeField)]
        for row in rows:
            for name in stamps:
                value = getattr(row, name)
                if value is not None:
                    assert (value.hour, value.minute, value.second, value.microsecond) == (
                        0,
                        0,
                        0,
                        0,
                    ), f"{model.__name__}.{name} is {value}"
    # The audit log records staff actions only: nothing about the submission.
    for sent in (tip, flood_tip):
        assert not AuditEntry.objects.filter(tip_reference=sent.reference).exists()
        assert all(sent.reference not in str(entry.detail) for entry in AuditEntry.objects.all())
    assert all(entry.actor for entry in AuditEntry.objects.exclude(action="login_failed"))


def test_the_search_finds_a_value_that_was_kept(open_tipline, roots, all_logs) -> None:
    """The self-check: plant a value in each place searched above; each one is found."""
    editor = staff_account_create("ana")
    type(editor.user).objects.filter(pk=editor.user.pk).update(first_name=PLANTED)
    planted_file = roots[1] / "planted.txt"
    planted_file.write_bytes(PLANTED.encode("utf-16-le"))
    cache.set("planted", {"client": PLANTED}, 60)
    # An address in a log line is rewritten by the shipped filter; a user agent is not.
    logging.getLogger("uvicorn.error").info('"GET / HTTP/1.1" 200 "%s"', quote(PLANTED_AGENT))

    searched = everything(roots, all_logs)
    found = hits(searched, needles(PLANTED, PLANTED_AGENT))
    places = " | ".join(found)
    assert "select * from every table" in places
    if connection.vendor == "sqlite":
        assert "iterdump" in places
        assert re.search(r"in file \S+\.sqlite3(-wal)?", places), "the raw database file"
    assert str(planted_file) in places
    assert re.search(r"in file \S+\.djcache, decoded", places), "the cache folder"
    assert "captured logs" in places
