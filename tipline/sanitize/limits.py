"""Resource limits for the sanitizers, and the errors that end a file's cleaning.

Every sanitizer reads a hostile file. These limits keep one file from taking the
worker's memory or time: anything over a limit ends as status ``damaged`` with a
reason code, and the original bytes are stored unchanged (and not shown).

The module-level ``limits`` object holds the defaults; change its attributes at
start-up (e.g. from settings) or pass ``limits=Limits(...)`` to ``sanitize()``.
"""

from __future__ import annotations

import dataclasses
import time

MiB = 1024 * 1024


@dataclasses.dataclass
class Limits:
    # Images. Pillow's own bomb check (DecompressionBombWarning, about 89.5 MP)
    # is also turned into an error where Pillow decodes, so the effective cap for
    # decoded formats is the lower of the two.
    max_pixels: int = 100_000_000
    max_frames: int = 10_000  # GIF/WebP/APNG frames, TIFF pages
    max_icc_bytes: int = 4 * MiB
    max_header_bytes: int = 64 * MiB  # JPEG segments before the first scan, PNG chunks
    # Zip containers (office documents).
    max_zip_members: int = 5_000
    max_zip_member_bytes: int = 256 * MiB  # uncompressed, per member
    max_zip_total_bytes: int = 1024 * MiB  # uncompressed, whole archive
    max_zip_ratio: int = 200  # uncompressed / compressed, for members over 1 MiB
    max_xml_bytes: int = 64 * MiB
    max_nesting: int = 2  # documents inside documents (embedded xlsx in a docx ...)
    # PDF.
    max_pdf_objects: int = 2_000_000
    max_pdf_pages: int = 20_000
    # Audio and video.
    max_streams: int = 32
    max_packets: int = 50_000_000
    # Wall-clock budget for one file; long loops check it.
    max_seconds: float = 1800.0


limits = Limits()


class SanitizeError(Exception):
    """A file could not be cleaned. ``reason`` is a stable code for the report.

    The message must never contain file content (it may reach logs): only our own
    fixed wording.
    """

    status = "damaged"

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class Damaged(SanitizeError):
    """The file claims a type but does not parse as one."""


class LimitExceeded(SanitizeError):
    """The file is over a resource limit (a bomb, or just too big to process)."""


class Unsupported(SanitizeError):
    """A type we recognise but cannot clean (encrypted, raw camera format ...)."""

    status = "not_sanitized"


class Deadline:
    """A wall-clock budget; ``check()`` raises once it has run out."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise LimitExceeded("too_slow", "processing time limit reached")


def check_pixels(width: int, height: int, lim: Limits, frames: int = 1) -> None:
    if width <= 0 or height < 0:
        raise Damaged("bad_dimensions", "image has no width")
    if width * height > lim.max_pixels:
        raise LimitExceeded("too_many_pixels", "image dimensions over the pixel limit")
    if frames > lim.max_frames:
        raise LimitExceeded("too_many_frames", "more frames than the limit")
