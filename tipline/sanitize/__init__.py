"""Metadata removal for uploaded files.

    report = sanitize(source, sink, scratch_factory=io.BytesIO)

``source`` is a readable, seekable binary file object (in production a
decrypting reader: no name, no fileno). ``sink`` is write-only and not
seekable (an encrypting writer). ``scratch_factory()`` returns a fresh
seekable read-write file object (in production an encrypted temp file).

All-or-nothing output: the cleaned file is first written to a scratch object
and copied to the sink only once cleaning has succeeded. If cleaning fails,
the sink receives the original bytes, unchanged, and the report says
``damaged`` or ``not_sanitized`` with a reason. So the sink always holds
exactly one complete file: the cleaned one or the original.

Sanitizers are pure: no ORM, no network, no subprocess, no paths and no
temporary files (plaintext must never touch the disk).
"""

from __future__ import annotations

import io
import logging
import struct
import zipfile
import zlib
from collections.abc import Callable
from typing import BinaryIO

from . import limits as limits_module
from .common import Context, ScratchFactory, copy_stream
from .limits import Limits, SanitizeError
from .report import Removed, Report, SanitizeStatus
from .sniff import HEAD, FileKind, sniff, sniff_head
from .thumbnail import thumbnail_jpeg

__all__ = [
    "FileKind",
    "Limits",
    "Removed",
    "Report",
    "SanitizeStatus",
    "cleanable_by_head",
    "sanitize",
    "sniff",
    "thumbnail_jpeg",
]

logger = logging.getLogger(__name__)

Handler = Callable[[BinaryIO, BinaryIO, Context], Report]

# What parsers raise on bad input. Anything else (TypeError, AttributeError, ...)
# is a programming error and propagates. Library-specific errors (pikepdf, PyAV,
# Pillow's DecompressionBombError) are turned into SanitizeError by each module.
INPUT_ERRORS = (
    SanitizeError,
    OSError,
    ValueError,
    EOFError,
    SyntaxError,
    struct.error,
    zlib.error,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    IndexError,
    KeyError,
    OverflowError,
    MemoryError,
    RecursionError,
)


def handler_for(mime: str) -> Handler | None:
    """The sanitizer for a sniffed type (imported lazily: PyAV and pikepdf are big)."""
    if mime == "image/jpeg":
        from .jpeg import sanitize_jpeg

        return sanitize_jpeg
    if mime == "image/png":
        from .png import sanitize_png

        return sanitize_png
    if mime == "image/gif":
        from .gif import sanitize_gif

        return sanitize_gif
    if mime == "image/webp":
        from .webp import sanitize_webp

        return sanitize_webp
    if mime in (
        "image/tiff",
        "image/bmp",
        "image/x-portable-anymap",
        "image/heic",
        "image/heif",
        "image/avif",
    ):
        from .images import sanitize_pillow

        return sanitize_pillow
    if mime == "application/pdf":
        from .pdf import sanitize_pdf

        return sanitize_pdf
    if mime == "image/svg+xml":
        from .svg import sanitize_svg

        return sanitize_svg
    if mime == "application/rtf":
        from .rtf import sanitize_rtf

        return sanitize_rtf
    if mime.startswith("application/vnd.openxmlformats-officedocument."):
        from .ooxml import sanitize_ooxml

        return sanitize_ooxml
    if mime.startswith("application/vnd.oasis.opendocument."):
        from .odf import sanitize_odf

        return sanitize_odf
    from .media import MUXERS, sanitize_media

    if mime in MUXERS:
        return sanitize_media
    return None


def cleanable_by_head(head: bytes) -> bool | None:
    """Whether a file starting with ``head`` is of a kind that has a cleaner (False:
    it will be stored as sent); None where its first bytes do not say. A damaged
    file of a cleanable kind is only found out by cleaning it."""
    kind = sniff_head(head[:HEAD])
    return None if kind is None else handler_for(kind.mime) is not None


def sanitize(
    source: BinaryIO,
    sink: BinaryIO,
    *,
    scratch_factory: ScratchFactory = io.BytesIO,
    limits: Limits | None = None,
) -> Report:
    """Write ``source`` without metadata to ``sink``; never raises for bad input."""
    kind = sniff(source)
    # The module-level object is read at call time, so start-up code may replace it.
    ctx = Context(kind, limits or limits_module.limits, scratch_factory)
    return run(source, sink, ctx)


def run(source: BinaryIO, sink: BinaryIO, ctx: Context) -> Report:
    """Clean ``source`` as ``ctx.kind`` into ``sink`` (the original on failure)."""
    handler = handler_for(ctx.kind.mime)
    if handler is None:
        report = ctx.new_report(SanitizeStatus.NOT_SANITIZED)
        report.reason = "unsupported_type"
        report.detail = "no sanitizer for this type"
        _store_original(source, sink)
        _log(report)
        return report
    scratch = ctx.scratch_factory()
    try:
        try:
            source.seek(0)
            report = handler(source, scratch, ctx)
        except INPUT_ERRORS as exc:
            report = _failure(ctx, exc)
            _store_original(source, sink)
            _log(report, exc)
            return report
        scratch.seek(0)
        copy_stream(scratch, sink)
    finally:
        scratch.close()
    _log(report)
    return report


def _failure(ctx: Context, exc: BaseException) -> Report:
    if isinstance(exc, SanitizeError):
        report = ctx.new_report(SanitizeStatus(exc.status))
        report.reason, report.detail = exc.reason, exc.detail
    else:
        report = ctx.new_report(SanitizeStatus.DAMAGED)
        report.reason = "unreadable"
        report.detail = f"parser error ({type(exc).__name__})"
    return report


def _store_original(source: BinaryIO, sink: BinaryIO) -> None:
    source.seek(0)
    copy_stream(source, sink)


def _log(report: Report, exc: BaseException | None = None) -> None:
    # Type, status and reason codes only: never names, content or metadata values.
    # DEBUG: a line per file at INFO, timestamped by the journal, would date each
    # arrival; the daily maintenance logs the day's counts instead.
    logger.debug(
        "sanitize: %s %s %s%s",
        report.mime,
        report.status,
        report.reason or "-",
        f" ({type(exc).__name__})" if exc is not None else "",
    )
