"""Driving the resumable-upload ASGI application directly, as a server would, in tests.

``TusClient`` calls ``tipline.intake.tus.application`` with a real ASGI scope
and a ``receive`` that hands over the body in the pieces given, optionally
followed by a disconnect (a connection cut mid-body). It runs in the test's
thread through ``async_to_sync``, so the application's database work (sent to
asgiref's thread-sensitive executor) runs on the test's own connection.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync

from tipline.intake.form_token import form_token_issue
from tipline.intake.tus import application

HOST = "testserver"
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode()


def new_secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def new_form_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()


@dataclass
class TusResponse:
    status: int
    headers: dict[str, str]

    # What tests/security/_support.assert_pinned_headers asks of a response.
    @property
    def status_code(self) -> int:
        return self.status

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def has_header(self, name: str) -> bool:
        return name.lower() in self.headers

    def __getitem__(self, name: str) -> str:
        return self.headers[name.lower()]


class Disconnect:
    """In a body's pieces: the client goes away here."""


class Stall:
    """In a body's pieces: the client sends nothing more until ``release`` is set."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.release = asyncio.Event()


def scope_of(method: str, path: str, headers: dict[str, str]) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode("latin1"), v.encode("latin1")) for k, v in headers.items()],
        "client": ("203.0.113.9", 40000),
        "server": ("127.0.0.1", 8000),
    }


async def call_async(
    method: str, path: str, headers: dict[str, str], pieces: Sequence[object] = ()
) -> TusResponse:
    queue = list(pieces)
    sent: list[dict] = []
    ended = asyncio.Event()

    async def receive() -> dict:
        while queue:
            piece = queue.pop(0)
            if isinstance(piece, Disconnect):
                queue.clear()
                ended.set()
                return {"type": "http.disconnect"}
            if isinstance(piece, Stall):
                piece.reached.set()
                await piece.release.wait()
                continue
            more = any(isinstance(p, bytes) for p in queue)
            return {"type": "http.request", "body": piece, "more_body": more}
        if not ended.is_set():
            ended.set()
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # after the body only a disconnect would come
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    await application(scope_of(method, path, headers), receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return TusResponse(
        start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}
    )


@dataclass
class TusClient:
    """One source's page: its secret, its form, its language."""

    form_token: str = field(default_factory=form_token_issue)
    secret: str = field(default_factory=new_secret)
    form_id: str = field(default_factory=new_form_id)
    lang: str = "es"
    origin: dict[str, str] = field(default_factory=lambda: dict(SAME_ORIGIN))

    def headers(self, **extra: str) -> dict[str, str]:
        headers = {
            "Host": HOST,
            "Tus-Resumable": "1.0.0",
            "Tipline-Upload-Secret": self.secret,
            **self.origin,
        }
        headers.update({k.replace("_", "-"): v for k, v in extra.items()})
        return {k: v for k, v in headers.items() if v is not None}

    def call(
        self, method: str, path: str, pieces: Sequence[object] = (), **headers: str
    ) -> TusResponse:
        return async_to_sync(call_async)(method, path, self.headers(**headers), pieces)

    def create(self, length: int, name: str = "vídeo de prueba.mp4", **headers: str) -> TusResponse:
        metadata = ",".join(
            [
                f"filename {b64(name)}",
                f"form_token {b64(self.form_token)}",
                f"form_id {b64(self.form_id)}",
            ]
        )
        return self.call(
            "POST",
            f"/{self.lang}/uploads/",
            **{"Upload-Length": str(length), "Upload-Metadata": metadata, **headers},
        )

    def head(self, location: str, **headers: str) -> TusResponse:
        return self.call("HEAD", location, **headers)

    def patch(
        self, location: str, offset: int, pieces: Sequence[object], **headers: str
    ) -> TusResponse:
        length = sum(len(p) for p in pieces if isinstance(p, bytes))
        all_headers = {
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            "Content-Length": str(length),
            **headers,
        }
        return self.call("PATCH", location, pieces, **all_headers)

    def upload(self, data: bytes, name: str = "archivo.bin", piece: int = 100_000) -> str:
        """A whole file in one PATCH (sent in pieces): its token."""
        created = self.create(len(data), name)
        assert created.status == 201, created
        location = created["Location"]
        if data:
            pieces = [data[i : i + piece] for i in range(0, len(data), piece)]
            done = self.patch(location, 0, pieces)
            assert done.status == 204 and done["Upload-Offset"] == str(len(data)), done
        return location.rsplit("/", 1)[1]


# --- Over a real socket -----------------------------------------------------------------------------


class ThreadedServer:
    """uvicorn serving ``app`` on 127.0.0.1 in a thread of this process (no access log)."""

    def __init__(self, app) -> None:
        import socket
        import threading

        import uvicorn

        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app, lifespan="on", access_log=False, log_config=None, timeout_keep_alive=2
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> ThreadedServer:
        import time

        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=20)
        self._socket.close()


@dataclass
class SocketTusClient(TusClient):
    """The same page, talking HTTP/1.1 to a real server on 127.0.0.1."""

    port: int = 0

    def call(
        self, method: str, path: str, pieces: Sequence[object] = (), **headers: str
    ) -> TusResponse:
        import http.client

        all_headers = self.headers(**headers)
        all_headers["Host"] = f"127.0.0.1:{self.port}"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            body = b"".join(p for p in pieces if isinstance(p, bytes))
            connection.request(method, path, body=body or None, headers=all_headers)
            response = connection.getresponse()
            response.read()
            return TusResponse(response.status, {k.lower(): v for k, v in response.getheaders()})
        finally:
            connection.close()

    def patch_cut(self, location: str, offset: int, declared: bytes, sent: int) -> None:
        """A PATCH announcing all of ``declared`` whose connection dies after ``sent`` bytes."""
        import socket
        import struct
        import time

        head = (
            f"PATCH {location} HTTP/1.1\r\n"
            + "".join(
                f"{k}: {v}\r\n"
                for k, v in {
                    **self.headers(),
                    "Host": f"127.0.0.1:{self.port}",
                    "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream",
                    "Content-Length": str(len(declared)),
                }.items()
            )
            + "\r\n"
        )
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as raw:
            raw.sendall(head.encode("latin1"))
            raw.sendall(declared[:sent])
            time.sleep(0.2)  # let the server read what arrived before the cut
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # SO_LINGER 0: the close sends a reset, as a broken circuit does.
