"""Clients that behave badly on purpose, over raw asyncio sockets to 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from dataclasses import dataclass

from tests.http_client import Browser

HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
BOUNDARY = "----tiplinetest" + secrets.token_hex(6)


@dataclass
class Form:
    """What a browser would send back: the form's hidden fields and the cookie that goes with them."""

    fields: dict[str, str]
    cookie: str


def landing_form(url: str, lang: str = "es") -> Form:
    browser = Browser(url)
    page = browser.get(f"/{lang}/")
    assert page.status == 200, page.status
    fields = dict(HIDDEN_INPUT.findall(page.text))
    assert "csrfmiddlewaretoken" in fields, "the landing page has no form"
    cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    return Form(fields, cookie)


def field_part(name: str, value: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
    ).encode()


def file_part_head(filename: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


def closing_boundary() -> bytes:
    return f"\r\n--{BOUNDARY}--\r\n".encode()


def form_body_head(form: Form, *, note: str = "", filename: str = "video.mp4") -> bytes:
    """The fields, then the head of one file part: what comes before the file's bytes."""
    fields = {**form.fields, "note": note, "links": ""}
    return b"".join(field_part(k, v) for k, v in fields.items()) + file_part_head(filename)


def post_head(url: str, path: str, *, cookie: str, length: int | None, extra: str = "") -> bytes:
    host = url.removeprefix("http://")
    framing = f"Content-Length: {length}\r\n" if length is not None else ""
    if length is None:
        framing = "Transfer-Encoding: chunked\r\n"
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nOrigin: {url}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{framing}{extra}\r\n"
    ).encode()


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def closed_after(reader: asyncio.StreamReader, limit: float) -> tuple[bytes, float]:
    """Read until the server closes the connection; what it sent, and when (seconds from now)."""
    started = time.monotonic()
    received = b""
    async with asyncio.timeout(limit):
        while chunk := await reader.read(65536):
            received += chunk
    return received, time.monotonic() - started


def status_of(raw: bytes) -> int:
    match = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    assert match, raw[:200]
    return int(match.group(1))


async def probe(port: int, path: str = "/es/", *, timeout: float = 10) -> tuple[int, float]:
    """GET ``path`` on a fresh connection: the status and how long the whole answer took."""
    started = time.monotonic()
    reader, writer = await connect(port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        raw, _ = await closed_after(reader, timeout)
    finally:
        writer.close()
    return status_of(raw), time.monotonic() - started
