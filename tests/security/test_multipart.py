"""Broken, lying and hostile request bodies on the source form: refused cleanly, nothing stored.

The Django test client covers what a parser sees; a raw socket against a live
server covers what only a real connection can do: a body cut off mid-file, a
Content-Length that lies, headers that never end, and a too-large body refused
from its headers alone, before the client has sent a byte of it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.test import Client

from tests.conftest import all_files_under
from tests.http_client import TOKEN_FIELD, Browser
from tests.security._support import (
    assert_no_server_error,
    assert_no_stack_trace,
    raw_exchange,
    read_response,
    status_of,
)
from tipline.models import Attachment, Tip

URL = "/es/send/"


def assert_nothing_stored(blob_storage: Path) -> None:
    assert Tip.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert all_files_under(blob_storage) == []


def token_client() -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    match = TOKEN_FIELD.search(client.get("/es/").content.decode())
    assert match
    return client, match.group(1)


def part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'Content-Disposition: form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"\r\nContent-Type: application/octet-stream'
    return disposition.encode() + b"\r\n\r\n" + value


def body(parts: list[bytes], boundary: bytes = b"BOUNDARY", *, close: bool = True) -> bytes:
    out = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts)
    return out + (b"--" + boundary + b"--\r\n" if close else b"")


def post(client: Client, data: bytes, content_type: str, **extra):
    return client.generic("POST", URL, data, content_type=content_type, **extra)


# --- What the parser sees (test client) ------------------------------------------------------

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("content_type", "boundary_in_body"),
    [
        ("multipart/form-data", b"BOUNDARY"),  # no boundary at all
        ("multipart/form-data; boundary=", b"BOUNDARY"),
        ("multipart/form-data; boundary=OTHER", b"BOUNDARY"),  # body uses another one
        ("multipart/form-data; boundary=\x7f\x00", b"\x7f\x00"),
        ('multipart/form-data; boundary="unterminated', b"unterminated"),
        ("multipart/form-data; boundary=a; boundary=b", b"a"),
    ],
)
def test_malformed_boundaries_are_refused(
    open_tipline, blob_storage, content_type, boundary_in_body
):
    client, token = token_client()
    data = body(
        [part("csrfmiddlewaretoken", token.encode()), part("files", b"x" * 1000, "a.bin")],
        boundary_in_body,
    )
    response = post(client, data, content_type)
    assert response.status_code in (400, 403), response.status_code
    assert_no_server_error(response)
    assert_nothing_stored(blob_storage)


def test_missing_final_boundary_stores_nothing(open_tipline, blob_storage):
    client, token = token_client()
    data = body(
        [part("csrfmiddlewaretoken", token.encode()), part("files", b"y" * 50_000, "cut.bin")],
        close=False,
    )
    response = post(client, data, "multipart/form-data; boundary=BOUNDARY")
    assert_no_server_error(response)
    assert response.status_code == 400, response.status_code
    assert_nothing_stored(blob_storage)


def test_body_ending_mid_part_header_stores_nothing(open_tipline, blob_storage):
    client, token = token_client()
    data = body([part("csrfmiddlewaretoken", token.encode())], close=False)
    data += b'--BOUNDARY\r\nContent-Disposition: form-data; name="files"; filena'
    response = post(client, data, "multipart/form-data; boundary=BOUNDARY")
    assert_no_server_error(response)
    assert response.status_code in (400, 403)
    assert_nothing_stored(blob_storage)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/json",
        "application/octet-stream",
        "multipart/mixed; boundary=BOUNDARY",
        "multipart/related; boundary=BOUNDARY",
        "application/x-www-form-urlencoded; charset=utf-32",
        "",
    ],
)
def test_other_content_types_are_refused(open_tipline, blob_storage, content_type):
    client, token = token_client()
    data = body([part("csrfmiddlewaretoken", token.encode()), part("files", b"z" * 100, "a.bin")])
    response = post(client, data, content_type)
    assert_no_server_error(response)
    assert response.status_code in (400, 403), (content_type, response.status_code)
    assert_nothing_stored(blob_storage)


def test_urlencoded_body_carries_no_file(open_tipline, blob_storage):
    client, token = token_client()
    data = f"csrfmiddlewaretoken={token}&note=hola&files=..%2F..%2Fetc%2Fpasswd".encode()
    response = post(client, data, "application/x-www-form-urlencoded")
    assert_no_server_error(response)
    assert Attachment.objects.count() == 0
    assert all_files_under(blob_storage) == []


def test_duplicate_fields_keep_one_value_each(open_tipline, blob_storage):
    client, token = token_client()
    data = body(
        [
            part("csrfmiddlewaretoken", b"wrong-token-first"),
            part("csrfmiddlewaretoken", token.encode()),
            part("note", b"first"),
            part("note", b"second"),
            part("links", b"https://example.org/1"),
            part("links", b"https://example.org/2"),
            part("files", b"one", "same.txt"),
            part("files", b"two", "same.txt"),
        ]
    )
    response = post(client, data, "multipart/form-data; boundary=BOUNDARY")
    assert_no_server_error(response)
    assert response.status_code in (200, 400, 403)
    assert Tip.objects.count() <= 1
    if response.status_code != 200:
        assert_nothing_stored(blob_storage)


def test_ten_thousand_tiny_fields_are_refused_quickly(open_tipline, blob_storage):
    client, token = token_client()
    data = body([part("csrfmiddlewaretoken", token.encode())] + [part("x", b"1")] * 10_000)
    started = time.monotonic()
    response = post(client, data, "multipart/form-data; boundary=BOUNDARY")
    assert time.monotonic() - started < 5
    assert_no_server_error(response)
    assert response.status_code in (400, 413)
    assert_nothing_stored(blob_storage)


def test_one_file_too_many_is_refused_not_a_server_error(open_tipline, blob_storage, settings):
    """Django's own file count (DATA_UPLOAD_MAX_NUMBER_FILES) trips before the handler's."""
    client, token = token_client()
    files = [part("files", b"1", f"{i}.jpg") for i in range(settings.TIPLINE_MAX_FILES + 2)]
    data = body([part("csrfmiddlewaretoken", token.encode()), part("note", b"hola"), *files])
    response = post(client, data, "multipart/form-data; boundary=BOUNDARY")
    assert_no_server_error(response)
    assert response.status_code in (400, 413)
    assert_nothing_stored(blob_storage)


def test_long_boundary_is_no_server_error(open_tipline, blob_storage):
    client, token = token_client()
    boundary = b"b" * 200  # longer than RFC 2046 allows; Django accepts it
    data = body([part("csrfmiddlewaretoken", token.encode()), part("note", b"hola")], boundary)
    response = post(client, data, "multipart/form-data; boundary=" + boundary.decode())
    assert_no_server_error(response)


def test_ten_thousand_tiny_files_are_refused_quickly(open_tipline, blob_storage):
    client, token = token_client()
    files = [part("files", b"1", f"{i}.txt") for i in range(10_000)]
    data = body([part("csrfmiddlewaretoken", token.encode()), *files])
    started = time.monotonic()
    response = post(client, data, "multipart/form-data; boundary=BOUNDARY")
    assert time.monotonic() - started < 10
    assert_no_server_error(response)
    assert response.status_code in (400, 413)
    assert_nothing_stored(blob_storage)


@pytest.mark.parametrize("size", [1024, 100_000, 1_000_000])
def test_huge_part_headers_are_refused(open_tipline, blob_storage, size):
    client, token = token_client()
    hostile = (
        f'Content-Disposition: form-data; name="files"; filename="{"h" * size}.bin"\r\n'
        f"X-Padding: {'p' * size}\r\n\r\ncontent"
    ).encode()
    data = body([part("csrfmiddlewaretoken", token.encode()), hostile])
    response = post(client, data, "multipart/form-data; boundary=BOUNDARY")
    assert_no_server_error(response)
    assert response.status_code in (200, 400, 413)
    if response.status_code != 200:
        assert_nothing_stored(blob_storage)


def test_oversized_text_field_is_refused(open_tipline, blob_storage):
    client, token = token_client()
    data = body([part("csrfmiddlewaretoken", token.encode()), part("note", b"n" * 2_000_000)])
    response = post(client, data, "multipart/form-data; boundary=BOUNDARY")
    assert_no_server_error(response)
    assert response.status_code in (400, 413)
    assert_nothing_stored(blob_storage)


@pytest.mark.parametrize("declared", ["-1", "abc", "1e9", " 12", "0x10", ""])
def test_nonsense_content_length_is_refused(open_tipline, blob_storage, declared):
    client, token = token_client()
    data = body([part("csrfmiddlewaretoken", token.encode()), part("files", b"q" * 10, "a.bin")])
    response = post(client, data, "multipart/form-data; boundary=BOUNDARY", CONTENT_LENGTH=declared)
    assert_no_server_error(response)
    assert response.status_code in (400, 403, 411, 413)
    assert_nothing_stored(blob_storage)


def test_content_length_shorter_than_the_body_stores_nothing(open_tipline, blob_storage):
    client, token = token_client()
    data = body([part("csrfmiddlewaretoken", token.encode()), part("files", b"s" * 100_000, "a")])
    response = post(
        client,
        data,
        "multipart/form-data; boundary=BOUNDARY",
        CONTENT_LENGTH=str(len(data) // 2),
    )
    assert_no_server_error(response)
    assert response.status_code == 400
    assert_nothing_stored(blob_storage)


# --- What only a real connection can do (raw socket, live server) ------------------------------


def live_token(live_server) -> tuple[str, str]:
    """A token and the cookie it belongs to, from the live landing page."""
    browser = Browser(live_server.url)
    match = TOKEN_FIELD.search(browser.get("/es/").text)
    assert match
    return match.group(1), "; ".join(f"{k}={v}" for k, v in browser.cookies.items())


def request_head(live_server, cookie: str, length: int | str, extra: str = "") -> bytes:
    host = live_server.url.removeprefix("http://")
    return (
        f"POST {URL} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n"
        f"Origin: {live_server.url}\r\n"
        "Content-Type: multipart/form-data; boundary=BOUNDARY\r\n"
        f"Content-Length: {length}\r\n{extra}Connection: close\r\n\r\n"
    ).encode()


@pytest.mark.django_db(transaction=True)
def test_too_large_a_body_is_refused_from_its_headers_alone(
    live_server, open_tipline, blob_storage
):
    import socket

    from django.conf import settings

    _token, cookie = live_token(live_server)
    declared = settings.TIPLINE_MAX_TIP_BYTES + 2 * 1024 * 1024
    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        # Only the headers: had the server waited for the body, this would time out.
        sock.sendall(request_head(live_server, cookie, declared))
        started = time.monotonic()
        answer = read_response(sock)
    assert time.monotonic() - started < 5
    assert status_of(answer) == 413
    assert_no_stack_trace(answer)
    assert_nothing_stored(blob_storage)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sent_fraction", [0.1, 0.5, 0.99])
def test_body_cut_off_mid_file_stores_nothing(
    live_server, open_tipline, blob_storage, sent_fraction
):
    token, cookie = live_token(live_server)
    data = body(
        [part("csrfmiddlewaretoken", token.encode()), part("note", b"hola")]
        + [part("files", b"v" * 600_000, "video.mp4")]
    )
    sent = data[: int(len(data) * sent_fraction)]
    answer = raw_exchange(live_server.url, request_head(live_server, cookie, len(data)), sent)
    assert_nothing_stored(blob_storage)
    if answer:  # the server may also just drop a connection that went away
        assert status_of(answer) in (400, 403)
        assert_no_stack_trace(answer)


@pytest.mark.django_db(transaction=True)
def test_content_length_longer_than_the_body_stores_nothing(
    live_server, open_tipline, blob_storage
):
    token, cookie = live_token(live_server)
    data = body([part("csrfmiddlewaretoken", token.encode()), part("files", b"w" * 1000, "a")])
    answer = raw_exchange(
        live_server.url, request_head(live_server, cookie, len(data) + 5000), data
    )
    assert_nothing_stored(blob_storage)
    if answer:
        assert status_of(answer) in (400, 403)
        assert_no_stack_trace(answer)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "extra",
    [
        "X-Huge: " + "h" * 100_000 + "\r\n",
        "".join(f"X-Many-{i}: {i}\r\n" for i in range(500)),
        "Content-Length: 5\r\n",  # a second, different length
        "Transfer-Encoding: chunked\r\n",
    ],
    ids=["one-huge-header", "500-headers", "two-lengths", "chunked-and-length"],
)
def test_hostile_request_headers_get_no_server_error(
    live_server, open_tipline, blob_storage, extra
):
    token, cookie = live_token(live_server)
    data = body([part("csrfmiddlewaretoken", token.encode()), part("files", b"k" * 100, "a")])
    answer = raw_exchange(
        live_server.url, request_head(live_server, cookie, len(data), extra), data
    )
    if answer:
        assert status_of(answer) < 500
        assert_no_stack_trace(answer)
    assert Attachment.objects.count() <= 1
