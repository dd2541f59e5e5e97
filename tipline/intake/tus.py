"""Resumable uploads over HTTP: the tus 1.0.0 core protocol and its creation extension.

A plain ASGI application; the server's router (tipline/server/asgi.py) sends
it every request under ``/<lang>/uploads/``. The page's script (static/upload.js)
creates one upload per file, sends it in PATCH requests and, when a connection
breaks, asks with HEAD how much arrived and continues from there:

- ``OPTIONS /<lang>/uploads/[<token>]``: what the server supports (204);
- ``POST /<lang>/uploads/`` with ``Upload-Length`` and ``Upload-Metadata``
  (``filename``, ``form_token``, ``form_id``): a new upload, ``201`` with its
  ``Location``; 413 over ``TIPLINE_MAX_FILE_BYTES`` (or the tip's limits),
  403 for another page's form, 507 when the disk is nearly full. With
  ``visit`` (and ``form_id``) instead of ``form_token``: a file sent later on
  a source's conversation page, for the visit the cookie names (403 without
  one), under its conversation key (tipline/intake/later_files.py);
- ``HEAD /<lang>/uploads/<token>``: ``Upload-Offset`` (whole chunks durably
  written) and ``Upload-Length``;
- ``PATCH /<lang>/uploads/<token>`` with ``Upload-Offset`` and
  ``Content-Type: application/offset+octet-stream``: the bytes from there on,
  encrypted as they arrive; ``204`` with the new ``Upload-Offset``. 409 when
  the offset is not the upload's, 415 for another content type.

Deviation from tus, on purpose: the offset a server answers counts only whole
cipher chunks (64 KiB) durably on disk, so it may stay behind the bytes a
PATCH carried (the partial chunk at the end of a cut-off request is dropped,
never stored half-encrypted). Clients continue from the offset answered, as
tus clients do after a HEAD.

Every request but OPTIONS carries ``Tus-Resumable: 1.0.0`` (else 412) and the
page's secret in ``Tipline-Upload-Secret`` (32 bytes, base64url): it opens the
upload's tip key, so a wrong one gets 403 and nothing else. Requests must be
same-origin (``Sec-Fetch-Site: same-origin``, or an ``Origin`` equal to the
request's own host; any other ``Origin``, ``null`` included, is refused);
there is no CORS. Every response carries the site's
privacy and security headers and ``Cache-Control: no-store``.

Bodies are read with ``receive()`` as they come and never held whole: each
piece is encrypted into the upload's spool file at once (small writes), and
every ``SYNC_EVERY_BYTES``, and when the request ends however it ends, the
whole chunks are fsync'd (in a thread) and their offset recorded. The database
work runs in a thread of the source side (the server's bridge in the scope),
or through asgiref when the application runs alone.

A new request for an upload that another request of this process is still
writing (a client that lost its connection before the server noticed) takes
over: the old one stops reading, confirms what it has and lets go.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.http.request import split_domain_port, validate_host

from tipline.intake import resumable
from tipline.intake.later_files import later_upload_create
from tipline.intake.resumable import SpoolStream, UploadError
from tipline.keyring import tipline_is_open
from tipline.middleware import NO_STORE, PERMISSIONS_POLICY
from tipline.models import PendingUpload

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

TUS_VERSION = "1.0.0"
SECRET_HEADER = "tipline-upload-secret"  # noqa: S105 - a header name
PATCH_CONTENT_TYPE = "application/offset+octet-stream"
# tipline.server.asgi.DJANGO_SCOPE_KEY: the server's Django bridge, if any.
DJANGO_SCOPE_KEY = "tipline.django"
# Whole chunks are fsync'd and their offset recorded this often while a body
# arrives (and always when it ends, however it ends): what a crash of the
# server itself could lose. Each sync is an fsync and a database write, so
# every megabyte would halve the upload's speed.
SYNC_EVERY_BYTES = 8 * 1024 * 1024
# The free space is checked this often: a full disk stops an upload early.
RESERVE_CHECK_EVERY_BYTES = 4 * 1024 * 1024
# How long a new request waits for the one it takes over from to let go.
TAKEOVER_SECONDS = 30.0
_MAX_METADATA_CHARS = 4096
_PATH = re.compile(r"/(?P<lang>[A-Za-z-]{2,16})/uploads/(?P<token>[^/]*)")


class _Answer(Exception):
    """Answer at once with ``status`` (a refusal mostly; OPTIONS too) and no body."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.headers = headers or {}


class NoRoom(UploadError):
    status = 507


class Closed(UploadError):
    status = 503


# --- The application ------------------------------------------------------------------------------


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":  # run alone (tests, a bare uvicorn): nothing to start
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    request = _Request(scope, receive, send)
    try:
        await _dispatch(request)
    except _Answer as answer:
        await request.respond(answer.status, answer.headers)
    except UploadError as error:
        await request.respond(error.status)
    except Exception as exc:
        logger.error("an upload request failed (%s)", type(exc).__name__)
        logger.debug("upload request failure", exc_info=True)
        await request.respond(500)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class _Request:
    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope, self.receive, self._send = scope, receive, send
        self.method: str = scope["method"]
        self.headers: dict[str, str] = {}
        cookies = []
        for key, value in scope.get("headers", []):
            name = key.decode("latin1").lower()
            if name == "cookie":  # HTTP/2 may split it in several headers
                cookies.append(value.decode("latin1"))
            self.headers.setdefault(name, value.decode("latin1"))
        if cookies:
            self.headers["cookie"] = "; ".join(cookies)
        self.started = False

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def int_header(self, name: str) -> int | None:
        value = self.headers.get(name)
        if value is None or not value.isascii() or not value.isdigit() or len(value) > 19:
            return None
        return int(value)

    async def respond(self, status: int, headers: dict[str, str] | None = None) -> None:
        if self.started:
            return
        self.started = True
        all_headers = [*site_headers(self.scope), *(headers or {}).items()]
        if self.method != "HEAD" and status != 204:  # no Content-Length on those (RFC 9110)
            all_headers.append(("Content-Length", "0"))
        with suppress(OSError):  # the client may be gone: nobody to answer
            await self._send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(k.encode("latin1"), v.encode("latin1")) for k, v in all_headers],
                }
            )
            await self._send({"type": "http.response.body", "body": b""})


def site_headers(scope: Scope) -> list[tuple[str, str]]:
    """The site's privacy and security headers (tipline/middleware.py, SecurityMiddleware, CSP)."""
    from csp.utils import build_policy

    referrer = settings.SECURE_REFERRER_POLICY
    if not isinstance(referrer, str):
        referrer = ",".join(referrer)
    headers = [
        ("Cache-Control", NO_STORE),
        ("Permissions-Policy", PERMISSIONS_POLICY),
        ("Cross-Origin-Resource-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY or "same-origin"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", settings.X_FRAME_OPTIONS),
        ("Referrer-Policy", referrer),
        ("Content-Security-Policy", build_policy()),
        ("Tus-Resumable", TUS_VERSION),
    ]
    if settings.SECURE_HSTS_SECONDS and _is_secure(scope):
        hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            hsts += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            hsts += "; preload"
        headers.append(("Strict-Transport-Security", hsts))
    return headers


def _is_secure(scope: Scope) -> bool:
    if scope.get("scheme") == "https":
        return True
    proxy_header = settings.SECURE_PROXY_SSL_HEADER
    if not proxy_header:
        return False
    name, expected = proxy_header
    wanted = name.removeprefix("HTTP_").replace("_", "-").lower().encode("latin1")
    return any(k.lower() == wanted and v.decode("latin1") == expected for k, v in scope["headers"])


# --- Routing and the checks every request passes --------------------------------------------------


async def _dispatch(request: _Request) -> None:
    match = _PATH.fullmatch(request.scope["path"])
    languages = {code for code, _name in settings.LANGUAGES}
    if match is None or match["lang"] not in languages:
        raise _Answer(404)
    if not _host_allowed(request):
        raise _Answer(400)
    if not _same_origin(request):
        raise _Answer(403)
    token = match["token"]
    allowed = "OPTIONS, HEAD, PATCH" if token else "OPTIONS, POST"
    if request.method == "OPTIONS":
        raise _Answer(
            204,
            {
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": "creation",
                "Tus-Max-Size": str(settings.TIPLINE_MAX_FILE_BYTES),
                "Allow": allowed,
            },
        )
    if request.header("tus-resumable") != TUS_VERSION:
        raise _Answer(412, {"Tus-Version": TUS_VERSION})
    if token and not resumable.is_token(token):
        raise _Answer(404)
    handlers = {"POST": _create} if not token else {"HEAD": _head, "PATCH": _patch}
    handler = handlers.get(request.method)
    if handler is None:
        raise _Answer(405, {"Allow": allowed})
    await handler(request, match["lang"], token)


def _host_allowed(request: _Request) -> bool:
    """The Host header checked as Django checks it for every page (ALLOWED_HOSTS)."""
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _port = split_domain_port(request.header("host") or "")
    return bool(domain) and validate_host(domain, allowed)


def _same_origin(request: _Request) -> bool:
    """Sent by a page of this site: browsers say so in ``Sec-Fetch-Site``, older ones in ``Origin``.

    An ``Origin`` that is not this host (``null`` included: the site's pages
    send their real origin under ``Referrer-Policy: same-origin``) is refused
    whatever else the request says; a HEAD from our own page carries no
    ``Origin``, so ``Sec-Fetch-Site`` alone may vouch for it.
    """
    origin = request.header("origin")
    if origin is not None and not _is_own_origin(origin, request.header("host")):
        return False
    fetch_site = request.header("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    return origin is not None


def _is_own_origin(origin: str, host: str | None) -> bool:
    scheme, _sep, netloc = origin.partition("://")
    return bool(host) and scheme in ("http", "https") and netloc.lower() == (host or "").lower()


def _secret(request: _Request) -> bytes:
    secret = resumable.secret_parse(request.header(SECRET_HEADER) or "")
    if secret is None:
        raise _Answer(403)
    return secret


# --- Creation -------------------------------------------------------------------------------------


async def _create(request: _Request, lang: str, _token: str) -> None:
    length = request.int_header("upload-length")
    if length is None:  # Upload-Defer-Length is not supported
        raise _Answer(400)
    if length > settings.TIPLINE_MAX_FILE_BYTES:
        raise _Answer(413)
    if request.int_header("content-length") or request.header("transfer-encoding"):
        raise _Answer(400)  # creation-with-upload is not offered
    metadata = _metadata(request.header("upload-metadata") or "")
    if metadata is None or "filename" not in metadata:
        raise _Answer(400)
    secret = _secret(request)
    if "visit" in metadata:  # a file sent later, on a source's conversation page
        await _create_for_visit(request, lang, metadata, secret=secret, length=length)
        return
    binding = resumable.form_binding_of(
        form_token=metadata.get("form_token", b"").decode("ascii", "replace"),
        form_id=metadata.get("form_id", b"").decode("ascii", "replace"),
    )
    if binding is None:
        raise _Answer(403)
    try:
        name = metadata["filename"].decode("utf-8")
    except UnicodeDecodeError:
        raise _Answer(400) from None
    pending = await _in_django(
        request.scope,
        _create_checked,
        secret=secret,
        form_binding=binding,
        name=name,
        length=length,
    )
    location = f"/{lang}/uploads/{pending.token}"
    await request.respond(201, {"Location": location, "Upload-Offset": str(pending.offset)})


async def _create_for_visit(
    request: _Request, lang: str, metadata: dict[str, bytes], *, secret: bytes, length: int
) -> None:
    """Creation for a visit: the visit comes from the cookie, the key is its conversation key."""
    try:
        name = metadata["filename"].decode("utf-8")
        form_id = metadata.get("form_id", b"").decode("ascii")
    except UnicodeDecodeError:
        raise _Answer(400) from None
    pending = await _in_django(
        request.scope,
        _create_checked,
        create=later_upload_create,
        cookie_header=request.header("cookie") or "",
        form_id=form_id,
        secret=secret,
        name=name,
        length=length,
    )
    location = f"/{lang}/uploads/{pending.token}"
    await request.respond(201, {"Location": location, "Upload-Offset": str(pending.offset)})


def _create_checked(
    create: Callable[..., PendingUpload] = resumable.pending_upload_create, **kwargs: Any
) -> PendingUpload:
    if not tipline_is_open():
        raise Closed("nobody could read the tip")
    if resumable.spool_room_short(kwargs["length"]):
        raise NoRoom("the disk is nearly full")
    return create(**kwargs)


def _metadata(value: str) -> dict[str, bytes] | None:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs; None if malformed."""
    if len(value) > _MAX_METADATA_CHARS:
        return None
    pairs: dict[str, bytes] = {}
    for item in value.split(","):
        parts = item.strip().split(" ")
        if not parts[0] or len(parts) > 2 or parts[0] in pairs:
            return None
        try:
            pairs[parts[0]] = base64.b64decode(parts[1], validate=True) if len(parts) == 2 else b""
        except (binascii.Error, ValueError):
            return None
    return pairs


# --- HEAD and PATCH -------------------------------------------------------------------------------


async def _head(request: _Request, _lang: str, token: str) -> None:
    secret = _secret(request)
    pending, _key = await _in_django(
        request.scope, resumable.pending_upload_open, token=token, secret=secret
    )
    # A PATCH of this upload still running here (its client is gone and asks
    # again) stops first and confirms what it has: the answer is then exact.
    async with _exclusive(token):
        pending = await _in_django(request.scope, resumable.pending_upload_refresh, pending)
    await request.respond(
        200, {"Upload-Offset": str(pending.offset), "Upload-Length": str(pending.length)}
    )


async def _patch(request: _Request, _lang: str, token: str) -> None:
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    if content_type != PATCH_CONTENT_TYPE:
        raise _Answer(415)
    offset = request.int_header("upload-offset")
    if offset is None:
        raise _Answer(400)
    secret = _secret(request)
    pending, tip_key = await _in_django(
        request.scope, resumable.pending_upload_open, token=token, secret=secret
    )
    declared = request.int_header("content-length")
    if declared is not None and offset + declared > pending.length:
        raise _Answer(413)
    async with _exclusive(token) as superseded:
        pending = await _in_django(request.scope, resumable.pending_upload_refresh, pending)
        if offset != pending.offset:
            raise _Answer(409)
        status = 204
        if pending.offset < pending.length:
            status = await _write(request, pending, tip_key, offset, superseded)
    await request.respond(status, {"Upload-Offset": str(pending.offset)})


async def _write(
    request: _Request,
    pending: PendingUpload,
    tip_key: bytes,
    offset: int,
    superseded: asyncio.Event,
) -> int:
    """The body into the spool, under the file's lock; the status to answer."""
    spool = await asyncio.to_thread(SpoolStream, pending)
    try:
        # Another process may have written until it let go of the lock: read the offset again.
        fresh = await _in_django(request.scope, resumable.pending_upload_refresh, pending)
        pending.offset = fresh.offset
        if offset != pending.offset:
            raise _Answer(409)
        await asyncio.to_thread(spool.resume, pending, tip_key=tip_key)
        status = await _receive_into(request, spool, pending, superseded)
        finished = await _settle(request, spool, pending)
    finally:
        await asyncio.to_thread(spool.close)
    if finished:
        await asyncio.to_thread(resumable.pending_upload_hand_over, pending)
    return status


async def _receive_into(
    request: _Request, spool: SpoolStream, pending: PendingUpload, superseded: asyncio.Event
) -> int:
    """Encrypt the body into the spool as it comes; the status to answer.

    413 if the body runs past the upload's length, 507 if the disk fills up
    (the reserve is checked at each sync); what arrived before counts.
    """
    unsynced = unchecked = 0
    # The fsync and the recording of an offset run while the next bytes
    # arrive (one at a time, in order): the client is never kept waiting on them.
    confirming: asyncio.Future[None] | None = None
    try:
        while True:
            message = await _next_message(request.receive, superseded)
            if message is None or message["type"] != "http.request":
                return 204  # the client is gone (nobody reads this), or a newer request took over
            body = message.get("body", b"")
            if spool.position + len(body) > spool.length:
                return 413
            if body:
                spool.write(body)
                unsynced += len(body)
                unchecked += len(body)
            if not message.get("more_body", False):
                return 204
            if spool.position >= spool.length:
                continue
            if unsynced >= SYNC_EVERY_BYTES:
                if confirming is not None:
                    await confirming
                confirming = asyncio.ensure_future(
                    _record(request, spool, pending, spool.checkpoint())
                )
                unsynced = 0
            if unchecked >= RESERVE_CHECK_EVERY_BYTES:
                unchecked = 0
                if await asyncio.to_thread(resumable.spool_room_short):
                    return 507
    finally:
        if confirming is not None:
            await confirming


async def _settle(request: _Request, spool: SpoolStream, pending: PendingUpload) -> bool:
    """However the body ended: finish the stream if it is all there, else confirm whole chunks."""
    if spool.position == spool.length:
        await asyncio.to_thread(spool.finish)
        await _in_django(request.scope, resumable.pending_upload_finished, pending=pending)
        return True
    await _confirm(request, spool, pending)
    return False


async def _confirm(request: _Request, spool: SpoolStream, pending: PendingUpload) -> None:
    """Whole chunks out, fsync'd, then their offset recorded (``pending.offset`` follows)."""
    await _record(request, spool, pending, spool.checkpoint())


async def _record(
    request: _Request, spool: SpoolStream, pending: PendingUpload, offset: int
) -> None:
    """``offset`` recorded once the chunks before it are on disk (more may follow them)."""
    await asyncio.to_thread(spool.sync)
    await _in_django(
        request.scope, resumable.pending_upload_confirm, pending=pending, offset=offset
    )


async def _next_message(receive: Receive, superseded: asyncio.Event) -> dict[str, Any] | None:
    """The next message from the client, or None once a newer request took over."""
    if superseded.is_set():
        return None
    receiving = asyncio.ensure_future(receive())
    waiting = asyncio.ensure_future(superseded.wait())
    done, _pending = await asyncio.wait({receiving, waiting}, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    if receiving in done:
        return receiving.result()
    receiving.cancel()
    return None


# --- One request per upload at a time, in this process --------------------------------------------


class _Slot:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.superseded = asyncio.Event()
        self.users = 0


_slots: dict[str, _Slot] = {}


@asynccontextmanager
async def _exclusive(token: str) -> AsyncIterator[asyncio.Event]:
    """Hold the upload alone; a request holding it already is told to stop (``superseded``)."""
    slot = _slots.setdefault(token, _Slot())
    slot.users += 1
    try:
        if slot.lock.locked():
            slot.superseded.set()
        try:
            await asyncio.wait_for(slot.lock.acquire(), TAKEOVER_SECONDS)
        except TimeoutError:
            raise resumable.UploadBusy("the request writing this upload does not let go") from None
        superseded = slot.superseded = asyncio.Event()
        try:
            yield superseded
        finally:
            slot.lock.release()
    finally:
        slot.users -= 1
        if not slot.users:
            _slots.pop(token, None)


# --- Django work, off the event loop --------------------------------------------------------------


async def _in_django(
    scope: Scope, function: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Any:
    call = functools.partial(_with_connections, function, *args, **kwargs)
    bridge = scope.get(DJANGO_SCOPE_KEY)
    if bridge is not None:
        return await bridge.run(scope, call)
    return await sync_to_async(call, thread_sensitive=True)()


def _with_connections(function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    # Outside a request cycle: close this thread's connection if it is too old
    # or broken, as Django does around each request.
    close_old_connections()
    try:
        return function(*args, **kwargs)
    finally:
        close_old_connections()
