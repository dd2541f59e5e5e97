"""The source form's POST: what is stored, what is refused, and that nothing partial stays."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, RequestFactory

from tests.arrivals_support import settle_everything
from tests.conftest import all_files_under
from tests.intake.helpers import form_token_of, submit_tip, tip_content
from tipline.intake.views import submit
from tipline.models import Attachment, Grant, RecipientKey, Tip

pytestmark = pytest.mark.django_db


def canary() -> str:
    return f"CANARY-{secrets.token_hex(8)}"


def assert_nothing_stored(blob_storage: Path) -> None:
    assert Tip.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert all_files_under(blob_storage) == []


def test_note_and_links_are_stored_encrypted(client: Client, open_tipline) -> None:
    secret = canary()
    response = submit_tip(
        client, note=f"La nota {secret}", links=f"https://example.org/{secret}\n\n  "
    )
    assert response.status_code == 200
    assert "Gracias" in response.content.decode()
    tip = Tip.objects.get()
    assert secret.encode() not in bytes(tip.content_sealed)
    assert tip_content(tip, open_tipline) == {
        "note": f"La nota {secret}",
        "links": [f"https://example.org/{secret}"],
    }
    # No files: the pipeline never gets a grant; the recovery key and the editor do.
    kinds = set(Grant.objects.filter(tip=tip).values_list("recipient__kind", flat=True))
    assert kinds == {RecipientKey.Kind.RECOVERY, RecipientKey.Kind.EDITOR}


def test_received_date_is_coarse(client: Client, open_tipline) -> None:
    submit_tip(client, note="hola")
    received = Tip.objects.get().received_on
    assert (received.hour, received.minute, received.second, received.microsecond) == (0, 0, 0, 0)


def test_confirmation_does_not_echo_the_note(client: Client, open_tipline) -> None:
    secret = canary()
    response = submit_tip(client, note=secret, files=[("a.txt", b"x" * 2048)])
    body = response.content.decode()
    assert secret not in body
    assert "a.txt" not in body
    assert "2,0" in body or "2.0" in body  # the file's size, in the page's language


def test_files_are_encrypted_processed_and_the_pipeline_grant_dropped(
    client: Client, open_tipline, blob_storage: Path
) -> None:
    secret = canary()
    text = f"texto con {secret}\n".encode()
    binary = secrets.token_bytes(300_000) + secret.encode() + secrets.token_bytes(1000)
    response = submit_tip(client, note=secret, files=[("notas.txt", text), ("datos.bin", binary)])
    assert response.status_code == 200
    tip = Tip.objects.get()
    attachments = list(tip.attachments.all())
    assert [a.state for a in attachments] == [Attachment.State.DONE] * 2
    assert [a.received_size for a in attachments] == [len(text), len(binary)]
    assert all(a.raw_blob == "" and a.clean_blob for a in attachments)
    assert not Grant.objects.filter(tip=tip, recipient__kind=RecipientKey.Kind.PIPELINE).exists()
    assert Grant.objects.filter(tip=tip, recipient__kind=RecipientKey.Kind.RECOVERY).exists()
    stored = all_files_under(blob_storage)
    assert len(stored) == 2  # the two clean blobs; the raw blobs are gone
    for path in stored:
        assert secret.encode() not in path.read_bytes()
        assert path.stat().st_mode & 0o077 == 0


def test_only_a_file_is_a_valid_tip(client: Client, open_tipline) -> None:
    response = submit_tip(client, files=[("foto.jpg", b"not really a jpeg")])
    assert response.status_code == 200
    assert Tip.objects.get().file_count == 1


def test_zero_byte_file_is_kept(client: Client, open_tipline) -> None:
    response = submit_tip(client, files=[("vacío.txt", b"")])
    assert response.status_code == 200
    attachment = Attachment.objects.get()
    assert attachment.received_size == 0
    assert attachment.state == Attachment.State.DONE


def test_empty_form_is_refused(client: Client, open_tipline, blob_storage: Path) -> None:
    response = submit_tip(client, note="   ", links="\n")
    assert response.status_code == 400
    assert "Escribe una nota" in response.content.decode()
    assert_nothing_stored(blob_storage)


def test_too_many_files_stores_nothing_and_keeps_the_note(
    client: Client, open_tipline, blob_storage: Path, settings
) -> None:
    settings.TIPLINE_MAX_FILES = 2
    files = [(f"f{i}.txt", b"data") for i in range(3)]
    response = submit_tip(client, note="mi nota", files=files)
    assert response.status_code == 413
    body = response.content.decode()
    assert "como máximo 2 archivos" in body
    assert "mi nota" in body  # what the source typed is still in the form
    assert_nothing_stored(blob_storage)


def test_one_file_over_the_default_limit_gets_the_tip_lines_own_message(
    client: Client, open_tipline, blob_storage: Path, settings
) -> None:
    files = [(f"f{i}.txt", b"data") for i in range(settings.TIPLINE_MAX_FILES + 1)]
    response = submit_tip(client, note="mi nota", files=files)
    assert response.status_code == 413
    assert f"como máximo {settings.TIPLINE_MAX_FILES} archivos" in response.content.decode()
    assert_nothing_stored(blob_storage)


def test_file_over_the_limit_stores_nothing(
    client: Client, open_tipline, blob_storage: Path, settings
) -> None:
    settings.TIPLINE_MAX_FILE_BYTES = 1000
    response = submit_tip(client, files=[("ok.txt", b"a" * 10), ("big.bin", b"b" * 5000)])
    assert response.status_code == 413
    assert_nothing_stored(blob_storage)


def test_tip_over_the_total_limit_stores_nothing(
    client: Client, open_tipline, blob_storage: Path, settings
) -> None:
    settings.TIPLINE_MAX_TIP_BYTES = 3000
    response = submit_tip(client, files=[(f"{i}.bin", b"c" * 1000) for i in range(4)])
    assert response.status_code == 413
    assert_nothing_stored(blob_storage)


class ExplodingInput(io.RawIOBase):
    """A request body that must never be read."""

    def readinto(self, buffer) -> int:
        raise AssertionError("the body was read")


def test_oversized_body_is_refused_before_it_is_read(
    open_tipline, blob_storage: Path, settings
) -> None:
    request = RequestFactory().post(
        "/es/send/", data=b"", content_type="multipart/form-data; boundary=xyz"
    )
    request.META["CONTENT_LENGTH"] = str(settings.TIPLINE_MAX_TIP_BYTES + 10 * 1024 * 1024)
    request.META["wsgi.input"] = ExplodingInput()
    request._stream = ExplodingInput()
    response = submit(request)
    assert response.status_code == 413
    assert_nothing_stored(blob_storage)


def test_missing_csrf_token_stores_nothing(open_tipline, blob_storage: Path) -> None:
    client = Client(enforce_csrf_checks=True)
    response = submit_tip(client, note="hola", files=[("a.txt", b"hola")])
    assert response.status_code == 403
    assert_nothing_stored(blob_storage)


def test_closed_tipline_refuses_and_stores_nothing(client: Client, db, blob_storage: Path) -> None:
    response = submit_tip(client, note="hola", files=[("a.txt", b"hola")])
    assert response.status_code == 503
    assert "todavía no está abierto" in response.content.decode()
    assert_nothing_stored(blob_storage)


def multipart(parts: list[bytes], boundary: bytes = b"BOUNDARY") -> bytes:
    return (
        b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
        + b"--"
        + boundary
        + b"--\r\n"
    )


def file_part(name: str, content: bytes) -> bytes:
    header = f'Content-Disposition: form-data; name="files"; filename="{name}"\r\n'
    return header.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + content


def test_malformed_multipart_is_refused_cleanly(
    client: Client, open_tipline, blob_storage: Path
) -> None:
    response = client.generic(
        "POST",
        "/es/send/",
        b"--BOUNDARY\r\nthis is not a part",
        content_type="multipart/form-data; boundary=BOUNDARY",
    )
    assert response.status_code in (400, 403)
    assert_nothing_stored(blob_storage)


class CutOffInput(io.RawIOBase):
    """A client that sends part of its body and then vanishes."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self.data.read(len(buffer))
        if not chunk:
            raise OSError("connection reset by peer")
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_client_disconnecting_halfway_leaves_no_blob(open_tipline, blob_storage: Path) -> None:
    body = multipart([file_part("video.mp4", b"v" * 600_000)])
    request = RequestFactory().generic(
        "POST", "/es/send/", b"", content_type="multipart/form-data; boundary=BOUNDARY"
    )
    request.META["CONTENT_LENGTH"] = str(len(body) + 400_000)  # more than will ever arrive
    request._stream = CutOffInput(body[:300_000])
    request._dont_enforce_csrf_checks = True
    response = submit(request)
    assert response.status_code in (400, 403)
    assert_nothing_stored(blob_storage)


def test_hostile_file_names_are_stored_encrypted(client: Client, open_tipline) -> None:
    names = ["../../etc/passwd", "invoice\u202egpj.exe", "n" * 300 + ".pdf"]
    response = submit_tip(client, files=[(name, b"content") for name in names])
    assert response.status_code == 200
    for attachment in Attachment.objects.all():
        sealed = bytes(attachment.name_sealed)
        assert b"passwd" not in sealed and b"invoice" not in sealed and b"nnnn" not in sealed


def test_no_view_can_spool_uploads_to_plaintext(settings) -> None:
    assert settings.FILE_UPLOAD_HANDLERS == ["tipline.intake.upload.RefuseUploadHandler"]


def test_only_post_sends_and_get_goes_to_the_form(client: Client, open_tipline) -> None:
    # A GET comes from history or a restored tab (issue 16): the form, not an empty 405.
    assert client.get("/es/send/").status_code == 303
    assert client.put("/es/send/").status_code == 405


def csrf_client_and_token(url: str = "/es/") -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    client.get(url)
    return client, client.cookies[settings.CSRF_COOKIE_NAME].value


def test_origin_null_is_refused_even_with_the_token(open_tipline, blob_storage: Path) -> None:
    """Browsers send ``null`` for a page that hides its origin: never one of ours (issue 13)."""
    client = Client(enforce_csrf_checks=True)
    page = client.get("/es/")
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    response = client.post(
        "/es/send/",
        {"note": "hola", "csrfmiddlewaretoken": token, "form_token": form_token_of(page)},
        HTTP_ORIGIN="null",
    )
    assert response.status_code == 403
    assert_nothing_stored(blob_storage)


def test_origin_null_without_the_token_is_refused(open_tipline, blob_storage: Path) -> None:
    client, _token = csrf_client_and_token()
    response = client.post("/es/send/", {"note": "hola"}, HTTP_ORIGIN="null")
    assert response.status_code == 403
    assert_nothing_stored(blob_storage)


def test_a_foreign_origin_is_refused_even_with_the_token(open_tipline, blob_storage: Path) -> None:
    client, token = csrf_client_and_token()
    response = client.post(
        "/es/send/",
        {"note": "hola", "csrfmiddlewaretoken": token},
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.status_code == 403
    assert_nothing_stored(blob_storage)


def test_files_without_a_registered_pipeline_key_are_refused_politely(
    client: Client, recovery_key, blob_storage: Path, settings, caplog
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = (
        False  # a separate worker host that never ran init_pipeline_key
    )
    response = submit_tip(client, note="hola", files=[("a.txt", b"hola")])
    assert response.status_code == 503
    assert_nothing_stored(blob_storage)
    assert "init_pipeline_key" in caplog.text


@pytest.mark.django_db(
    transaction=True
)  # real commits: the in-process pipeline runs before the page renders
def test_confirmation_summarises_what_was_removed(client: Client, open_tipline) -> None:
    from tests.sanitize._support import CORPUS

    photo = (CORPUS / "exif-samples/jpg/gps/DSCN0010.jpg").read_bytes()
    response = submit_tip(client, files=[("foto.jpg", photo)])
    body = response.content.decode()
    assert "ubicación GPS" in body


def test_blobs_reach_the_disk_before_the_source_is_told(
    client: Client, open_tipline, monkeypatch
) -> None:
    import os as os_module

    synced: list[int] = []
    real_fsync = os_module.fsync
    monkeypatch.setattr(os_module, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    response = submit_tip(client, files=[("a.bin", b"x" * 1000), ("b.bin", b"y" * 1000)])
    assert response.status_code == 200
    assert len(synced) >= 4  # two raw blobs, two clean blobs


def test_stored_blobs_are_dated_to_the_window_only(client, open_tipline, blob_storage):
    # File times on a seized disk must not date an upload to the second: once
    # the arrivals' batch has run (tests/test_arrivals.py has the whole story).
    response = submit_tip(client, note="n", files=[("a.txt", b"hello")])
    assert response.status_code == 200
    settle_everything()
    blobs = [path for path in blob_storage.rglob("*") if path.is_file()]
    assert blobs
    window = settings.TIPLINE_ARRIVAL_BATCH_MINUTES * 60
    for path in blobs:
        info = path.stat()
        assert info.st_mtime % window == 0 and info.st_atime % window == 0, path.name
