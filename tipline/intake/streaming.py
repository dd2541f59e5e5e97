"""The source form's POST, read as it arrives: each file encrypted into its blob chunk by chunk.

The server (tipline/server/asgi.py) routes ``POST /<lang>/send/`` here. The
body is read with ``receive()`` as the client sends it and parsed with
python-multipart's push parser, which calls back for each piece of a part as
soon as it has it. File parts drive the same ``EncryptingUploadHandler`` as
Django's parser does (``new_file``, ``receive_data_chunk``, ``file_complete``,
``upload_interrupted``), so each piece is encrypted into the file's raw blob
before the next one is read: nothing in the clear anywhere, memory of one
cipher chunk per upload, and no thread held while a slow client trickles.
Text fields are collected in memory under Django's own caps
(``DATA_UPLOAD_MAX_MEMORY_SIZE``, ``DATA_UPLOAD_MAX_NUMBER_FIELDS``,
``DATA_UPLOAD_MAX_NUMBER_FILES``). The parsing is tipline/intake/multipart.py.

Once the body is complete, the request goes through Django as any other
(every middleware, the CSRF check, the same ``submit`` view, which finds the
parsed fields, the files and the handler already attached) in one thread of
the source side. So the pages and statuses are the view's own: a refusal by
the handler (too many files, too large), a malformed or cut body ("did not
arrive complete"), a refusal before the body (tip line closed, too large a
Content-Length, no room on the disk), which is decided here first so that a
refused body is never read at all.

A client that goes away, or is cut off for sending too slowly, gets no
answer; everything it sent is deleted.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from django.conf import settings
from django.db import close_old_connections
from django.http import HttpRequest
from django.utils.http import parse_header_parameters

from tipline.intake.multipart import StreamedForm
from tipline.intake.reserve import storage_reserve_refuses
from tipline.intake.upload import EncryptingUploadHandler
from tipline.intake.views import MULTIPART_ALLOWANCE
from tipline.keyring import tipline_is_open

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
BlobIO = Callable[..., Awaitable[Any]]

# Once the tip line was found open it is taken as open for this long: the
# check before the body is read is only there to spare reading a refused
# body; the view checks again, from the database, before storing anything.
OPEN_FOR_SECONDS = 10.0


class DjangoStep(Protocol):
    """What the server offers the intake (tipline/server/bridge.py): Django in a source thread."""

    async def __call__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        body: bytes = b"",
        body_complete: bool = True,
        prepare: Callable[[HttpRequest], None] | None = None,
    ) -> None: ...

    async def run(self, scope: Scope, function: Callable[..., Any], *args: Any) -> Any: ...


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


def content_length(scope: Scope) -> int | None:
    value = header(scope, b"content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _open_checked() -> bool:
    # Outside a request: close this thread's connection if it is too old or
    # broken, as Django does around each request.
    close_old_connections()
    try:
        return tipline_is_open()
    finally:
        close_old_connections()


class StreamingIntake:
    """The ASGI application for ``POST /<lang>/send/`` (and, with ``handler_for``, for
    ``POST /<lang>/conversation/``, whose files go under the visit's key)."""

    def __init__(
        self,
        *,
        django: DjangoStep,
        blob_io: BlobIO,
        plain: ASGIApp,
        handler_for: Callable[[str], EncryptingUploadHandler | None] | None = None,
    ) -> None:
        self._django = django
        self._blob_io = blob_io
        # The handler the body's files go through, from the request's cookies,
        # decided before the body is read; None from it: the view says no unread.
        self._handler_for = handler_for
        # Not a multipart body (no browser sends the form any other way): read
        # it as every other request is, small and capped, and let the view say no.
        self._plain = plain
        self._open_until = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_type = header(scope, b"content-type") or ""
        kind, params = _content_type(content_type)
        if kind != "multipart/form-data":
            await self._plain(scope, receive, send)
            return
        if await self._refused_before_body(scope):
            # The view refuses it again with its own page; the body is never read.
            await self._django(scope, receive, send, body_complete=False)
            return
        handler = None
        if self._handler_for is not None:
            cookies = header(scope, b"cookie") or ""
            handler = await self._django.run(scope, self._handler_for, cookies)
            if handler is None:
                await self._django(scope, receive, send, body_complete=False)
                return
        upload = StreamedForm(
            # Django's parser refuses a Content-Type that is not ASCII too.
            boundary=params.get("boundary") if content_type.isascii() else None,
            blob_io=self._blob_io,
        )
        if handler is not None:
            upload.handler = handler  # nothing was fed yet: every file goes through it
        try:
            arrived = await upload.receive_all(receive)
        except BaseException:
            upload.handler.discard()  # cancelled (server stopping) or a bug: keep nothing
            raise
        if not arrived:
            await self._blob_io(upload.handler.discard)
            return
        # From here the view owns the blobs: it stores them or deletes them.
        await self._django(
            scope, receive, send, body_complete=upload.body_complete, prepare=upload.attach
        )
        if not upload.handler.committed:
            # The view has run (or Django answered before it could): nothing
            # of a request that stored no tip stays. Deleting twice is harmless.
            await self._blob_io(upload.handler.discard)

    async def _refused_before_body(self, scope: Scope) -> bool:
        if not await self._is_open(scope):
            return True
        declared = content_length(scope)
        if declared is None:
            return False
        if declared > settings.TIPLINE_MAX_TIP_BYTES + MULTIPART_ALLOWANCE:
            return True
        return storage_reserve_refuses(declared)

    async def _is_open(self, scope: Scope) -> bool:
        now = time.monotonic()
        if now < self._open_until:
            return True
        is_open = bool(await self._django.run(scope, _open_checked))
        if is_open:
            self._open_until = now + OPEN_FOR_SECONDS
        return is_open


def _content_type(value: str) -> tuple[str, dict[str, str]]:
    try:
        return parse_header_parameters(value)
    except ValueError:
        return "", {}
