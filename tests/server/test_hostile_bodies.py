"""tests/security/test_multipart.py's hostile bodies, sent to the real server's streaming intake.

The security suite drives the view through Django's own parser (test client,
live WSGI server); here the same bodies go through uvicorn and the streaming
intake, and must get the same statuses and leave nothing behind.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.security._support import assert_no_stack_trace
from tests.security.test_multipart import body, part
from tests.server.clients import closed_after, connect, landing_form, status_of
from tests.server.test_slow_clients import assert_nothing_kept

pytestmark = pytest.mark.django_db(transaction=True)


def post(served, form, data: bytes, content_type: str, *, length: str | None = None) -> bytes:
    head = (
        f"POST /es/send/ HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\nCookie: {form.cookie}\r\n"
        f"Origin: {served.url}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length if length is not None else len(data)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()

    async def run() -> bytes:
        reader, writer = await connect(served.port)
        writer.write(head + data)
        await writer.drain()
        answer, _ = await closed_after(reader, 30)
        writer.close()
        return answer

    return asyncio.run(run())


def form_parts(form) -> list[bytes]:
    return [part(name, value.encode()) for name, value in form.fields.items()]


@pytest.fixture
def served_form(start_server, open_tipline):
    served = start_server()
    return served, landing_form(served.url)


@pytest.mark.parametrize(
    ("content_type", "boundary_in_body"),
    [
        ("multipart/form-data", b"BOUNDARY"),
        ("multipart/form-data; boundary=", b"BOUNDARY"),
        ("multipart/form-data; boundary=OTHER", b"BOUNDARY"),
        ('multipart/form-data; boundary="unterminated', b"unterminated"),
        ("multipart/form-data; boundary=a; boundary=b", b"a"),
        ("multipart/form-data; boundary=" + "b" * 202, b"b" * 202),  # Django's limit is 201
    ],
)
def test_malformed_boundaries_are_refused(
    served_form, blob_storage: Path, content_type, boundary_in_body
) -> None:
    served, form = served_form
    data = body([*form_parts(form), part("files", b"x" * 1000, "a.bin")], boundary_in_body)
    answer = post(served, form, data, content_type)
    assert status_of(answer) in (400, 403)
    assert_no_stack_trace(answer)
    assert_nothing_kept(blob_storage)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/json", "multipart/mixed; boundary=BOUNDARY", ""],
)
def test_other_content_types_are_refused(served_form, blob_storage: Path, content_type) -> None:
    served, form = served_form
    data = body([*form_parts(form), part("files", b"z" * 100, "a.bin")])
    answer = post(served, form, data, content_type)
    assert status_of(answer) in (400, 403)
    assert_nothing_kept(blob_storage)


def test_ten_thousand_tiny_fields_are_refused_quickly(served_form, blob_storage: Path) -> None:
    served, form = served_form
    data = body([*form_parts(form)] + [part("x", b"1")] * 10_000)
    started = time.monotonic()
    answer = post(served, form, data, "multipart/form-data; boundary=BOUNDARY")
    assert time.monotonic() - started < 5
    assert status_of(answer) in (400, 413)
    assert_nothing_kept(blob_storage)


def test_ten_thousand_tiny_files_are_refused_quickly(served_form, blob_storage: Path) -> None:
    served, form = served_form
    files = [part("files", b"1", f"{i}.txt") for i in range(10_000)]
    started = time.monotonic()
    answer = post(
        served, form, body([*form_parts(form), *files]), "multipart/form-data; boundary=BOUNDARY"
    )
    assert time.monotonic() - started < 10
    assert status_of(answer) in (400, 413)
    assert_nothing_kept(blob_storage)


@pytest.mark.parametrize("size", [1024, 100_000])
def test_huge_part_headers_are_refused(served_form, blob_storage: Path, size) -> None:
    served, form = served_form
    hostile = (
        f'Content-Disposition: form-data; name="files"; filename="{"h" * size}.bin"\r\n'
        f"X-Padding: {'p' * size}\r\n\r\ncontent"
    ).encode()
    answer = post(
        served, form, body([*form_parts(form), hostile]), "multipart/form-data; boundary=BOUNDARY"
    )
    assert status_of(answer) in (200, 400, 413)
    if status_of(answer) != 200:
        assert_nothing_kept(blob_storage)


def test_an_oversized_text_field_is_refused(served_form, blob_storage: Path) -> None:
    served, form = served_form
    data = body([*form_parts(form), part("note", b"n" * 2_000_000)])
    answer = post(served, form, data, "multipart/form-data; boundary=BOUNDARY")
    assert status_of(answer) in (400, 413)
    assert_nothing_kept(blob_storage)


def test_a_urlencoded_body_carries_no_file(served_form, blob_storage: Path) -> None:
    served, form = served_form
    token = form.fields["csrfmiddlewaretoken"]
    data = f"csrfmiddlewaretoken={token}&note=hola&files=..%2F..%2Fetc%2Fpasswd".encode()
    answer = post(served, form, data, "application/x-www-form-urlencoded")
    assert status_of(answer) < 500
    assert all(path.parts[-3] != "raw" for path in blob_storage.rglob("*") if path.is_file())


def test_a_part_without_a_name_or_an_empty_file_is_ignored(served_form, blob_storage: Path) -> None:
    served, form = served_form
    data = body(
        [
            *form_parts(form),
            part("note", b"una nota"),
            b'Content-Disposition: form-data; filename="x.bin"\r\n\r\nno name',
            part("files", b"", ""),  # a file input left empty
        ]
    )
    answer = post(served, form, data, "multipart/form-data; boundary=BOUNDARY")
    assert status_of(answer) == 200
    assert b"Gracias" in answer
