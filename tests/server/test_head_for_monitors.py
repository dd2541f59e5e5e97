"""Issue 16: uptime monitors ask with HEAD, and a restored tab asks for the send address with GET.

Through the real server (uvicorn and the router, tipline/server/asgi.py), not
only Django's test client: the router must hand both to Django, and the answer
to a HEAD must carry no body.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.server.clients import closed_after, connect

pytestmark = pytest.mark.django_db(transaction=True)


def raw(served, data: bytes) -> bytes:
    async def run() -> bytes:
        reader, writer = await connect(served.port)
        writer.write(data)
        await writer.drain()
        answer, _ = await closed_after(reader, 10)
        writer.close()
        return answer

    return asyncio.run(run())


def ask(served, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    request = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\nConnection: close\r\n\r\n"
    ).encode()
    head, _sep, body = raw(served, request).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin1").split("\r\n")
    headers = {}
    for line in lines:
        name, _colon, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    ("path", "status", "location"), [("/", 302, "/es/"), ("/es/", 200, None), ("/en/", 200, None)]
)
def test_head_answers_like_get_without_a_body(
    start_server, open_tipline, path, status, location
) -> None:
    served = start_server()
    got, got_headers, got_body = ask(served, "GET", path)
    head, headers, body = ask(served, "HEAD", path)
    assert got == head == status
    assert headers.get("location") == location
    assert body == b"" and (status != 200 or len(got_body) > 0)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_the_send_address_from_history_goes_to_the_form(start_server, open_tipline, method) -> None:
    served = start_server()
    status, headers, _body = ask(served, method, "/es/send/")
    assert status == 303 and headers["location"] == "/es/"
