"""The source form's body as it arrives: python-multipart driving the encrypting upload handler.

``StreamedForm`` is fed the body piece by piece (``receive_all``) and parses it
with python-multipart's push parser. Each part is treated as Django's
``MultiPartParser`` treats it: text fields are kept in memory under Django's
caps (``DATA_UPLOAD_MAX_MEMORY_SIZE``, ``DATA_UPLOAD_MAX_NUMBER_FIELDS``),
file parts (at most ``DATA_UPLOAD_MAX_NUMBER_FILES``) go to
``EncryptingUploadHandler`` (``new_file``, ``receive_data_chunk``,
``file_complete``, ``upload_interrupted``) as their bytes come, and names are
sanitized the same way. ``attach`` hands the result to the view
(tipline/intake/streaming.py runs it).
"""

from __future__ import annotations

import base64
import binascii
import html
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.files.uploadhandler import SkipFile, StopUpload
from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParser
from django.utils.datastructures import MultiValueDict
from django.utils.encoding import force_str
from django.utils.http import parse_header_parameters
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser

from tipline.intake.upload import EncryptedUpload, EncryptingUploadHandler
from tipline.intake.views import MULTIPART_ALLOWANCE

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

logger = logging.getLogger(__name__)

Receive = Callable[[], Awaitable[dict[str, Any]]]
BlobIO = Callable[..., Awaitable[Any]]


def _sanitize_file_name(file_name: str) -> str | None:
    """What Django's parser keeps of a file's name (``MultiPartParser.sanitize_file_name``)."""
    file_name = html.unescape(file_name)
    file_name = file_name.rsplit("/")[-1]
    file_name = file_name.rsplit("\\")[-1]
    file_name = "".join(char for char in file_name if char.isprintable())
    return None if file_name in {"", ".", ".."} else file_name


FIELD, FILE, SKIP = "field", "file", "skip"


@dataclass
class _Part:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    kind: str = SKIP
    name: str = ""
    data: bytearray = field(default_factory=bytearray)
    base64: bool = False
    size: int = 0


class StreamedForm:
    """One body being received: the parser, the handler, and what was found so far."""

    def __init__(self, *, boundary: str | None, blob_io: BlobIO) -> None:
        self.handler = EncryptingUploadHandler()
        self.fields = QueryDict(mutable=True)
        self.files: MultiValueDict[str, EncryptedUpload] = MultiValueDict()
        # Malformed, cut short, or over Django's limits: the view answers
        # "the upload did not arrive complete" and keeps nothing.
        self.broken = False
        # No more parsing: broken, or the handler refused (handler.refusal).
        self.stopped = False
        # False when the reading stopped before the body's end (the connection
        # is then closed after the answer).
        self.body_complete = True
        self.received = 0
        self._blob_io = blob_io
        # Blob writes on the local disk are small and go to the page cache:
        # done in the event loop. A remote store may wait on the network.
        self._inline_writes = isinstance(default_storage, FileSystemStorage)
        self._part: _Part | None = None
        self._events: list[tuple[str, Any]] = []
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._finished = False
        self._field_bytes = 0
        self._field_count = 0
        self._file_count = 0
        self._parser: MultipartParser | None = None
        if boundary and MultiPartParser.boundary_re.fullmatch(boundary):
            self._parser = MultipartParser(boundary.encode("ascii"), self._callbacks())
        else:
            self._break()
        # A body with no end, read only to be dropped, is dropped up to here.
        self._drain_limit = settings.TIPLINE_MAX_TIP_BYTES + MULTIPART_ALLOWANCE

    # --- Reading -------------------------------------------------------------------------

    async def receive_all(self, receive: Receive) -> bool:
        """Read the body to its end; False if the client went away (or was too slow) first."""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self._interrupt()
                return False
            chunk = message.get("body", b"")
            self.received += len(chunk)
            if chunk and not self.stopped:
                await self._feed(chunk)
            if not message.get("more_body", False):
                break
            if self.received > self._drain_limit:
                # Only a body without a Content-Length gets here (a longer
                # declared one is refused before it is read): answer now.
                if not self.stopped:
                    self._break()
                self.body_complete = False
                break
        self._end_of_body()
        return True

    async def _feed(self, chunk: bytes) -> None:
        assert self._parser is not None
        try:
            self._parser.write(chunk)
        except FormParserError:
            self._break()
            return
        # The callbacks append to this very list: take its content, keep the list.
        events = self._events[:]
        self._events.clear()
        for kind, value in events:
            if self.stopped:
                return
            try:
                await self._event(kind, value)
            except StopUpload:  # the handler refused: handler.refusal says why
                self._stop()
            except OSError as exc:
                logger.warning("an upload could not be written (%s)", type(exc).__name__)
                self._break()

    async def _event(self, kind: str, value: Any) -> None:
        if kind == "begin":
            self._part = _Part()
        elif kind == "header" and self._part is not None:
            self._part.headers.append(value)
        elif kind == "headers" and self._part is not None:
            self._part_start(self._part)
        elif kind == "data" and self._part is not None:
            await self._part_data(self._part, value)
        elif kind == "end" and self._part is not None:
            part, self._part = self._part, None
            await self._part_end(part)
        elif kind == "finished":
            self._finished = True

    # --- Parts, as Django's MultiPartParser treats them -----------------------------------

    def _part_start(self, part: _Part) -> None:
        meta: dict[str, tuple[str, dict[str, str]]] = {}
        is_field = is_file = False
        for raw_name, raw_value in part.headers:
            try:
                main, params = parse_header_parameters((raw_name + b": " + raw_value).decode())
                name, value = main.split(":", 1)
            except ValueError:
                continue
            if name == "content-disposition":
                is_field = True
                is_file = bool(params.get("filename"))
            meta[name] = (value, params)
        if not is_file:
            self._field_count += 1
            if self._field_count > settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:
                self._break()
                return
        disposition = meta.get("content-disposition", ("", {}))[1]
        name = force_str(disposition.get("name", ""), errors="replace").strip()
        if not (is_field or is_file) or not name:
            return
        encoding = meta.get("content-transfer-encoding", ("", {}))[0].strip().lower()
        part.name, part.base64 = name, encoding == "base64"
        if is_file:
            self._file_start(part, disposition, meta)
        else:
            part.kind = FIELD

    def _file_start(self, part: _Part, disposition: dict[str, str], meta: dict) -> None:
        self._file_count += 1
        if self._file_count > settings.DATA_UPLOAD_MAX_NUMBER_FILES or part.base64:
            # Browsers never send base64 parts; Django's own limit on files.
            self._break()
            return
        file_name = _sanitize_file_name(force_str(disposition["filename"], errors="replace"))
        if not file_name:
            return
        content_type, extra = meta.get("content-type", ("", {}))
        try:
            length: int | None = int(meta.get("content-length", ("", {}))[0])
        except ValueError:
            length = None
        try:
            self.handler.new_file(
                part.name, file_name, content_type.strip(), length, extra.get("charset"), extra
            )
        except SkipFile:
            return
        part.kind = FILE

    async def _part_data(self, part: _Part, data: bytes) -> None:
        if part.kind == FIELD:
            self._field_bytes += len(data)
            if self._field_bytes > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                self._break()
                return
            part.data += data
        elif part.kind == FILE:
            if self._inline_writes:
                self.handler.receive_data_chunk(data, part.size)
            else:
                await self._blob_io(self.handler.receive_data_chunk, data, part.size)
            part.size += len(data)

    async def _part_end(self, part: _Part) -> None:
        if part.kind == FIELD:
            raw = bytes(part.data)
            if part.base64:
                try:
                    raw = base64.b64decode(raw)
                except binascii.Error:
                    pass
            # As Django counts it: the name and "=&" too.
            self._field_bytes += len(part.name) + 2
            if self._field_bytes > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                self._break()
                return
            self.fields.appendlist(part.name, force_str(raw, errors="replace"))
        elif part.kind == FILE:
            # Finishing the blob flushes it to the disk (fsync): not in the event loop.
            upload = await self._blob_io(self.handler.file_complete, part.size)
            if upload is not None:
                self.files.appendlist(part.name, upload)

    # --- Ends ---------------------------------------------------------------------------------

    def _stop(self) -> None:
        self.stopped = True
        self._interrupt()

    def _break(self) -> None:
        self.broken = True
        self._stop()

    def _interrupt(self) -> None:
        """A file cut off in the middle: its writer is left unfinished (the blob is discarded)."""
        if self._part is not None and self._part.kind == FILE:
            self.handler.upload_interrupted()
        self._part = None

    def _end_of_body(self) -> None:
        if not self.stopped and self.received and not self._finished:
            self._break()  # no closing boundary: cut off, or not the form at all
        self._interrupt()
        self.handler.upload_complete()

    def attach(self, request: HttpRequest) -> None:
        """Hand the parsed body to the view (``prepare`` of the Django step, in its thread)."""
        self.fields._mutable = False
        request._post = self.fields  # type: ignore[attr-defined]
        request._files = self.files  # type: ignore[attr-defined]
        self.handler.request = request
        request.tipline_upload_handler = self.handler  # type: ignore[attr-defined]
        request.tipline_body_broken = self.broken  # type: ignore[attr-defined]

    # --- The parser's callbacks (they only record; the events run after each write) ----------

    def _callbacks(self) -> MultipartCallbacks:
        events = self._events

        def data(data: bytes, start: int, end: int) -> None:
            events.append(("data", data[start:end]))

        def header_field(data: bytes, start: int, end: int) -> None:
            self._header_name += data[start:end]

        def header_value(data: bytes, start: int, end: int) -> None:
            self._header_value += data[start:end]

        def header_end() -> None:
            events.append(("header", (bytes(self._header_name), bytes(self._header_value))))
            self._header_name.clear()
            self._header_value.clear()

        return {
            "on_part_begin": lambda: events.append(("begin", None)),
            "on_header_field": header_field,
            "on_header_value": header_value,
            "on_header_end": header_end,
            "on_headers_finished": lambda: events.append(("headers", None)),
            "on_part_data": data,
            "on_part_end": lambda: events.append(("end", None)),
            "on_end": lambda: events.append(("finished", None)),
        }
