"""Django's request handling, run in a side's thread pool for a request whose body is in hand.

This is Django's own machinery (``BaseHandler``: every middleware, the
URLconf, the view; ``ASGIRequest`` built from the ASGI scope) driven the way
its WSGI handler drives it, synchronously, in a thread of the request's side
(tipline/server/limits.py). Django's ``ASGIHandler`` is not used, for three
reasons: it reads the whole body before anything else (into memory, with
``FILE_UPLOAD_MAX_MEMORY_SIZE = 0``), it turns a synchronous streaming
response into a list before sending it (a 1 GB decrypted download would sit
whole in memory), and it gives every request a thread of its own, so neither
the number of threads nor persistent database connections are bounded.

Here the router has read (and capped) the body already, or the streaming
intake has parsed it (``prepare`` attaches the result to the request), and a
streaming response is pulled one chunk at a time from the same pool, so a
download costs one chunk of memory and no thread while it waits on the client.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import logging
from collections.abc import Callable, Iterator
from typing import Any

from django.core import signals
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, ASGIRequest, get_script_prefix
from django.http import HttpRequest, HttpResponseBadRequest, HttpResponseBase
from django.urls import set_script_prefix

from tipline.server.limits import Capacity, Receive, Scope, Send, side_of

logger = logging.getLogger(__name__)

# Where a refusal the server decides itself (a body over the cap) is rendered,
# so it passes through every middleware and carries the policy headers.
REFUSALS_URLCONF = "tipline.server.refusals"

Prepare = Callable[[HttpRequest], None]
_END = object()


def refusal(status: int) -> Prepare:
    """``prepare`` for a request the server refuses with ``status`` (tipline/server/refusals.py)."""

    def prepare(request: HttpRequest) -> None:
        request.urlconf = REFUSALS_URLCONF
        request.tipline_refusal = status  # type: ignore[attr-defined]

    return prepare


class DjangoBridge(base.BaseHandler):
    def __init__(self, capacity: Capacity) -> None:
        super().__init__()
        self.load_middleware(is_async=False)
        self.capacity = capacity

    async def __call__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        body: bytes = b"",
        body_complete: bool = True,
        prepare: Prepare | None = None,
    ) -> None:
        """Answer one request. ``body_complete=False`` (refused before its body was
        read): the connection is closed after the answer, the rest never read."""
        side = side_of(scope["path"])
        context = contextvars.Context()

        async def in_thread(function: Callable[..., Any], *args: Any) -> Any:
            return await self.capacity.run(side, context, function, *args)

        response = await in_thread(self._respond, scope, body, prepare)
        gone = asyncio.Event()
        watcher = asyncio.create_task(_watch_disconnect(receive, gone)) if body_complete else None
        try:
            await _send_response(response, send, in_thread, gone, close=not body_complete)
        finally:
            if watcher is not None:
                watcher.cancel()
            # Django's request_finished signal, the stream's close(): in a thread too.
            await in_thread(response.close)

    async def run(self, scope: Scope, function: Callable[..., Any], *args: Any) -> Any:
        """Other Django work for this request (a read before the body), in its side's pool."""
        return await self.capacity.run(
            side_of(scope["path"]), contextvars.Context(), function, *args
        )

    def _respond(self, scope: Scope, body: bytes, prepare: Prepare | None) -> HttpResponseBase:
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        try:
            request = ASGIRequest(scope, io.BytesIO(body))
        except UnicodeDecodeError:
            response: HttpResponseBase = HttpResponseBadRequest()
        else:
            if prepare is not None:
                prepare(request)
            response = self.get_response(request)
        response._handler_class = self.__class__  # type: ignore[attr-defined]
        return response


async def _watch_disconnect(receive: Receive, gone: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()


def _headers(response: HttpResponseBase, *, close: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (
            header.encode("ascii") if isinstance(header, str) else bytes(header),
            value.encode("latin1") if isinstance(value, str) else bytes(value),
        )
        for header, value in response.items()
    ]
    for cookie in response.cookies.values():
        headers.append((b"Set-Cookie", cookie.output(header="").encode("ascii").strip()))
    if close:
        headers.append((b"Connection", b"close"))
    return headers


async def _send_response(
    response: HttpResponseBase,
    send: Send,
    in_thread: Callable[..., Any],
    gone: asyncio.Event,
    *,
    close: bool,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": _headers(response, close=close),
        }
    )
    if not response.streaming:
        content: bytes = response.content  # type: ignore[attr-defined]
        for chunk, last in ASGIHandler.chunk_bytes(content):
            await send({"type": "http.response.body", "body": chunk, "more_body": not last})
        return
    if response.is_async:  # type: ignore[attr-defined]
        async for part in response:  # type: ignore[attr-defined]
            if gone.is_set():
                return
            await send({"type": "http.response.body", "body": part, "more_body": True})
    else:
        parts: Iterator[bytes] = iter(response)
        while not gone.is_set():
            part = await in_thread(next, parts, _END)
            if part is _END:
                break
            await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
