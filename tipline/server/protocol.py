"""uvicorn's httptools protocol, with a deadline on request headers.

uvicorn closes a connection that stays idle after a response (keep-alive
timeout), but a client that sends one byte of its headers every few seconds
is never idle and never done: thousands of them would hold thousands of
connections for free. Here a client has ``TIPLINE_HEADER_TIMEOUT_SECONDS``
from the moment it connects (and, on a kept-alive connection, from the end of
the previous response) until its request headers are complete; then the
connection is closed, without an answer. The body has its own limit, a
minimum rate (tipline/server/limits.py).

The protocol also offers the application one ASGI extension,
``tipline.close_connection``: a callable that closes the connection at once
(used when an upload is cut off for being too slow, so the client's remaining
bytes are not read).
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

CLOSE_EXTENSION = "tipline.close_connection"


class HeaderDeadlineProtocol(HttpToolsProtocol):
    _header_deadline: asyncio.TimerHandle | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Never an access log, whatever the logging configuration: it would
        # record every client's address (uvicorn logs one whenever
        # "uvicorn.access" has a handler anywhere up its tree).
        self.access_log = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_deadline_arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._header_deadline_cancel()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        scope: Any = self.scope
        scope.setdefault("extensions", {})[CLOSE_EXTENSION] = self._close_now

    def on_headers_complete(self) -> None:
        self._header_deadline_cancel()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        # A request queued behind this one (pipelining) has its headers already.
        queued = bool(self.pipeline)
        super().on_response_complete()
        if not queued and not self.transport.is_closing():
            self._header_deadline_arm()

    def _header_deadline_arm(self) -> None:
        self._header_deadline_cancel()
        self._header_deadline = self.loop.call_later(
            settings.TIPLINE_HEADER_TIMEOUT_SECONDS, self._header_deadline_expired
        )

    def _header_deadline_cancel(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _header_deadline_expired(self) -> None:
        self._header_deadline = None
        self._close_now()

    def _close_now(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()
