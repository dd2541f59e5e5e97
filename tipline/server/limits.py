"""What one client may cost: threads per side, and a minimum rate for request bodies.

Threads are the scarce resource: every Django step (middleware, view,
template) runs in one. They come from a small pool per side, so the staff
pages keep working while every source slot is busy and the other way round.
A request waiting for a slot waits as a queued job in the event loop, which
costs memory only. Uploads hold no slot while their body trickles in; they
take one for their last step, once the body is there.

Connections and bodies cost memory, and are bounded by time: a client must
finish its request headers within ``TIPLINE_HEADER_TIMEOUT_SECONDS``
(tipline/server/protocol.py), and a request body slower than
``TIPLINE_MIN_UPLOAD_BYTES_PER_SECOND`` over a whole
``TIPLINE_MIN_UPLOAD_WINDOW_SECONDS`` window is cut off (``RateGuard``).
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.conf import settings

T = TypeVar("T")

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Scope = dict[str, Any]

STAFF_PREFIX = "/staff/"


class Side(enum.Enum):
    SOURCE = "source"
    STAFF = "staff"


def side_of(path: str) -> Side:
    """Staff pages live under /staff/; all else (source pages, static files) is the source side."""
    if path == STAFF_PREFIX.rstrip("/") or path.startswith(STAFF_PREFIX):
        return Side.STAFF
    return Side.SOURCE


class Capacity:
    """A bounded thread pool per side, plus one for blob input/output (fsync, deletes).

    Threads keep their database connection between jobs, as gunicorn's
    threads did, so ``DATABASE_CONN_MAX_AGE`` means what it meant. Each job
    runs in the ``contextvars.Context`` it is given, so nothing set for one
    request (the active language, the URLconf) leaks into the next one on the
    same thread.
    """

    def __init__(self, *, source: int, staff: int, blob_io: int) -> None:
        self._pools = {
            Side.SOURCE: ThreadPoolExecutor(source, thread_name_prefix="tipline-source"),
            Side.STAFF: ThreadPoolExecutor(staff, thread_name_prefix="tipline-staff"),
        }
        self._blob_io = ThreadPoolExecutor(blob_io, thread_name_prefix="tipline-blob-io")

    @classmethod
    def from_settings(cls) -> Capacity:
        source = settings.TIPLINE_SOURCE_CONCURRENCY
        return cls(source=source, staff=settings.TIPLINE_STAFF_CONCURRENCY, blob_io=source)

    async def run(
        self, side: Side, context: contextvars.Context, function: Callable[..., T], *args: Any
    ) -> T:
        """``function(*args)`` in one of ``side``'s threads, once one is free."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pools[side], functools.partial(context.run, function, *args)
        )

    async def blob_io(self, function: Callable[..., T], *args: Any) -> T:
        """A blocking blob operation (the fsync that finishes a blob, deleting blobs)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._blob_io, functools.partial(function, *args))

    def shutdown(self) -> None:
        for pool in (*self._pools.values(), self._blob_io):
            pool.shutdown(wait=False, cancel_futures=True)


class RateGuard:
    """``receive`` for one request, cutting off a body that arrives too slowly.

    The body must bring ``rate * window`` bytes within every ``window``
    seconds spent waiting for it; each time it does, a new window starts. Only
    time spent waiting on the client counts: time the server spends on the
    body (encrypting, finishing a blob, waiting for a thread) does not. A body
    that falls short is reported to the application as a disconnect
    (``http.disconnect``), so it stores nothing, and ``tripped`` tells the
    router to close the connection. Once the body is complete, ``receive``
    passes through untouched (it then only waits for the disconnect).
    """

    def __init__(self, receive: Receive, *, bytes_per_second: int, window: float) -> None:
        self._receive = receive
        self._quota = bytes_per_second * window
        self._window = window
        self._waited = 0.0
        self._received = 0
        self._body_complete = False
        self.tripped = False

    @classmethod
    def from_settings(cls, receive: Receive) -> RateGuard:
        return cls(
            receive,
            bytes_per_second=settings.TIPLINE_MIN_UPLOAD_BYTES_PER_SECOND,
            window=settings.TIPLINE_MIN_UPLOAD_WINDOW_SECONDS,
        )

    async def __call__(self) -> dict[str, Any]:
        if self._body_complete:
            return await self._receive()
        if self.tripped:
            return {"type": "http.disconnect"}
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(self._window - self._waited):
                message = await self._receive()
        except TimeoutError:
            self.tripped = True
            return {"type": "http.disconnect"}
        self._waited += loop.time() - started
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if not message.get("more_body", False):
                self._body_complete = True
            elif self._received >= self._quota:
                self._waited, self._received = 0.0, 0
        return message
