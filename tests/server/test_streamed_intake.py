"""The source form over the real server: streamed, encrypted as it arrives, the view's own pages.

``POST /<lang>/send/`` never goes through Django's multipart parser (it is
made to fail here): the streaming intake parses the body as it arrives and
drives the encrypting upload handler; the view renders the answer.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest

from tests.conftest import all_files_under
from tests.http_client import Browser
from tests.intake.helpers import tip_content
from tests.server.clients import (
    closed_after,
    closing_boundary,
    connect,
    field_part,
    file_part_head,
    form_body_head,
    landing_form,
    post_head,
    status_of,
)
from tests.server.test_slow_clients import assert_nothing_kept
from tipline.keyring import tip_key_unwrap
from tipline.models import Attachment, Tip
from tipline.sealed import Part, attachment_blob_open, attachment_name_open

pytestmark = pytest.mark.django_db(transaction=True)

MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def no_django_multipart_parser(monkeypatch) -> None:
    def refuse(self, *args, **kwargs):
        raise AssertionError("the source form must not go through Django's multipart parser")

    monkeypatch.setattr("django.http.multipartparser.MultiPartParser.parse", refuse)


@pytest.fixture
def short_of_space(monkeypatch, settings) -> None:
    """The blob disk has 10 MiB free, under the 1024 MiB reserve."""
    assert settings.TIPLINE_STORAGE_RESERVE_MB == 1024
    monkeypatch.setattr("tipline.intake.reserve.storage_free_bytes", lambda: 10 * MIB)


def exchange(served, head: bytes, body: bytes = b"", *, limit: float = 20) -> bytes:
    async def run() -> bytes:
        reader, writer = await connect(served.port)
        writer.write(head + body)
        await writer.drain()
        answer, _ = await closed_after(reader, limit)
        writer.close()
        return answer

    return asyncio.run(run())


def form_body(form, *, note: str = "", files: list[tuple[str, bytes]] = ()) -> bytes:
    fields = {**form.fields, "note": note, "links": ""}
    parts = [field_part(name, value) for name, value in fields.items()]
    for name, content in files:
        parts += [file_part_head(name), content, b"\r\n"]
    return b"".join(parts) + closing_boundary().removeprefix(b"\r\n")


def test_an_upload_is_stored_encrypted_then_cleaned_and_reads_back_with_the_recovery_key(
    start_server, open_tipline, blob_storage: Path
) -> None:
    served = start_server()
    data = secrets.token_bytes(3 * MIB + 12345)
    note = f"nota {secrets.token_hex(6)}"
    response = Browser(served.url).submit_tip(note=note, files=[("grabación.bin", data)])
    assert response.status == 200, response.text[:500]
    assert "Gracias" in response.text

    tip = Tip.objects.get()
    attachment = Attachment.objects.get()
    assert attachment.state == Attachment.State.DONE  # cleaned in-process (no broker)
    assert attachment.received_size == len(data)
    assert attachment.raw_blob == "" and attachment.clean_blob
    stored = all_files_under(blob_storage)
    assert len(stored) == 1 and data[:4096] not in stored[0].read_bytes()

    tip_key = tip_key_unwrap(
        tip=tip, recipient=open_tipline.recipient, private_key=open_tipline.private_key
    )
    with attachment_blob_open(attachment, Part.CLEAN, tip_key=tip_key) as reader:
        assert reader.read() == data
    assert attachment_name_open(attachment, tip_key=tip_key) == "grabación.bin"
    assert tip_content(tip, open_tipline) == {"note": note, "links": []}


def test_too_many_files_get_the_views_page_and_keep_the_note(
    start_server, open_tipline, settings, blob_storage: Path
) -> None:
    settings.TIPLINE_MAX_FILES = 2
    served = start_server()
    files = [(f"f{i}.txt", b"data" * 100) for i in range(3)]
    response = Browser(served.url).submit_tip(note="mi nota", files=files)
    assert response.status == 413
    assert "como máximo 2 archivos" in response.text
    assert "mi nota" in response.text
    assert_nothing_kept(blob_storage)


def test_a_file_over_the_limit_is_refused_and_nothing_kept(
    start_server, open_tipline, settings, blob_storage: Path
) -> None:
    settings.TIPLINE_MAX_FILE_BYTES = 1000
    served = start_server()
    response = Browser(served.url).submit_tip(files=[("ok.txt", b"a"), ("big.bin", b"b" * 5000)])
    assert response.status == 413
    assert_nothing_kept(blob_storage)


def test_a_body_without_its_closing_boundary_is_refused_and_nothing_kept(
    start_server, open_tipline, blob_storage: Path
) -> None:
    served = start_server()
    form = landing_form(served.url)
    body = form_body_head(form, note="hola") + b"x" * 50_000  # no closing boundary
    head = post_head(served.url, "/es/send/", cookie=form.cookie, length=len(body))
    answer = exchange(served, head, body)
    assert status_of(answer) == 400
    assert "no llegó completo".encode() in answer
    assert_nothing_kept(blob_storage)


def test_a_client_that_goes_away_mid_file_leaves_nothing(
    start_server, open_tipline, blob_storage: Path
) -> None:
    served = start_server()
    form = landing_form(served.url)
    head = form_body_head(form)
    declared = len(head) + 10 * MIB

    async def run() -> None:
        _reader, writer = await connect(served.port)
        writer.write(post_head(served.url, "/es/send/", cookie=form.cookie, length=declared) + head)
        writer.write(b"z" * MIB)
        await writer.drain()
        await asyncio.sleep(0.5)
        writer.close()

    asyncio.run(run())
    assert_nothing_kept(blob_storage)


def test_a_declared_length_over_the_tip_limit_is_refused_from_the_headers_alone(
    start_server, open_tipline, settings, blob_storage: Path
) -> None:
    served = start_server()
    form = landing_form(served.url)
    declared = settings.TIPLINE_MAX_TIP_BYTES + 2 * MIB
    # Only the headers: had the server waited for the body, this would time out.
    answer = exchange(
        served, post_head(served.url, "/es/send/", cookie=form.cookie, length=declared)
    )
    assert status_of(answer) == 413
    assert b"connection: close" in answer.lower()
    assert_nothing_kept(blob_storage)


# --- The storage reserve -----------------------------------------------------------------------


def test_short_of_space_a_body_with_files_is_refused_before_any_byte_of_it_is_read(
    start_server, open_tipline, short_of_space, blob_storage: Path
) -> None:
    served = start_server()
    form = landing_form(served.url)
    head = post_head(served.url, "/es/send/", cookie=form.cookie, length=50 * MIB)
    answer = exchange(served, head)  # the headers only, and the answer comes
    assert status_of(answer) == 507
    assert "almacenamiento está casi lleno".encode() in answer
    assert b"connection: close" in answer.lower()
    assert_nothing_kept(blob_storage)


def test_short_of_space_a_small_body_is_refused_at_its_first_file(
    start_server, open_tipline, short_of_space, blob_storage: Path
) -> None:
    served = start_server()
    response = Browser(served.url).submit_tip(note="mi nota", files=[("a.jpg", b"x" * 20_000)])
    assert response.status == 507
    assert "almacenamiento está casi lleno" in response.text
    assert "mi nota" in response.text
    assert_nothing_kept(blob_storage)


def test_short_of_space_a_body_without_a_length_is_refused_while_it_arrives(
    start_server, open_tipline, short_of_space, blob_storage: Path
) -> None:
    served = start_server()
    form = landing_form(served.url)
    body = form_body(form, note="hola", files=[("a.bin", b"y" * 100_000)])
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(piece), piece)
        for piece in (body[i : i + 4096] for i in range(0, len(body), 4096))
    )
    head = post_head(served.url, "/es/send/", cookie=form.cookie, length=None)
    answer = exchange(served, head, chunked + b"0\r\n\r\n")
    assert status_of(answer) == 507
    assert_nothing_kept(blob_storage)


def test_short_of_space_a_note_without_files_is_still_taken(
    start_server, open_tipline, short_of_space
) -> None:
    served = start_server()
    response = Browser(served.url).submit_tip(note="solo una nota")
    assert response.status == 200
    assert tip_content(Tip.objects.get(), open_tipline)["note"] == "solo una nota"
