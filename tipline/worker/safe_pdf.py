"""The safe PDF: a new file that holds only page images and, optionally, invisible OCR text.

Written object by object as the pages come, straight into an encrypting blob
writer, so memory holds one page at a time. Nothing of the original document
reaches it: each page is a JPEG we encoded from pixels, its content stream is
ours (draw the image; the OCR words in render mode 3, invisible), and the only
font is the standard Helvetica, not embedded. No catalog entry but /Pages, no
/Info, no XMP, no actions, no annotations, no forms: nothing a viewer runs.
The trailer /ID is random.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# Objects 1-3 are fixed: the catalog, the page tree, the font.
CATALOG, PAGES, FONT = 1, 2, 3
POINTS_PER_INCH = 72


class Sink(Protocol):
    """Where the PDF goes: an encrypting blob writer, or any file opened for writing."""

    def write(self, data: bytes, /) -> int: ...


@dataclass(frozen=True)
class Word:
    """One OCR word: its text and its box in the page's pixels."""

    text: str
    left: int
    top: int
    width: int
    height: int
    line: tuple[int, int, int] = (0, 0, 0)  # block, paragraph, line: the reading order


def _pdf_text(text: str) -> bytes:
    """A PDF literal string in WinAnsi (Helvetica's encoding: Spanish fits; others become '?')."""
    raw = text.encode("cp1252", "replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _number(value: float) -> bytes:
    return f"{value:.2f}".rstrip("0").rstrip(".").encode("ascii") or b"0"


class SafePdfWriter:
    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._written = 0
        self._offsets: dict[int, int] = {}
        self._next = FONT + 1
        self._pages: list[int] = []
        self._write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        self._object(
            FONT,
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        )

    def _write(self, data: bytes) -> None:
        self._sink.write(data)
        self._written += len(data)

    def _object(self, number: int, body: bytes, stream: bytes | None = None) -> None:
        self._offsets[number] = self._written
        self._write(f"{number} 0 obj\n".encode() + body)
        if stream is not None:
            self._write(b"\nstream\n" + stream + b"\nendstream")
        self._write(b"\nendobj\n")

    def _reserve(self) -> int:
        number = self._next
        self._next += 1
        return number

    def page_add(
        self, *, jpeg: bytes, width: int, height: int, dpi: int, words: Sequence[Word] = ()
    ) -> None:
        """One page: the image at ``dpi`` over the whole page, the words invisible above it."""
        page_w, page_h = width * POINTS_PER_INCH / dpi, height * POINTS_PER_INCH / dpi
        image, content, page = self._reserve(), self._reserve(), self._reserve()
        self._object(
            image,
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
            b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>" % (width, height, len(jpeg)),
            jpeg,
        )
        drawing = b"q " + _number(page_w) + b" 0 0 " + _number(page_h) + b" 0 0 cm /Im0 Do Q\n"
        drawing += _text_layer(words, page_h=page_h, scale=POINTS_PER_INCH / dpi)
        self._object(content, b"<< /Length %d >>" % len(drawing), drawing)
        self._object(
            page,
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] /Contents %d 0 R "
            b"/Resources << /XObject << /Im0 %d 0 R >> /Font << /F0 %d 0 R >> >> >>"
            % (PAGES, _number(page_w), _number(page_h), content, image, FONT),
        )
        self._pages.append(page)

    def close(self) -> None:
        kids = b" ".join(b"%d 0 R" % page for page in self._pages)
        self._object(
            PAGES, b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(self._pages)
        )
        self._object(CATALOG, b"<< /Type /Catalog /Pages %d 0 R >>" % PAGES)
        xref_at = self._written
        count = self._next
        lines = [b"xref\n0 %d\n" % count, b"0000000000 65535 f \n"]
        lines += [b"%010d 00000 n \n" % self._offsets[n] for n in range(1, count)]
        self._write(b"".join(lines))
        new_id = secrets.token_hex(16).encode("ascii")
        self._write(
            b"trailer\n<< /Size %d /Root %d 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n"
            % (count, CATALOG, new_id, new_id, xref_at)
        )


def _text_layer(words: Sequence[Word], *, page_h: float, scale: float) -> bytes:
    """Each word in render mode 3 (invisible), stretched to its box, so it can be selected
    and searched where it is seen."""
    if not words:
        return b""
    parts = [b"BT 3 Tr\n"]
    for word in words:
        size = max(1.0, word.height * scale)
        natural = max(1.0, 0.5 * size * len(word.text))  # Helvetica's average width
        stretch = 100 * word.width * scale / natural
        x, y = word.left * scale, page_h - (word.top + word.height) * scale
        parts.append(
            b"/F0 "
            + _number(size)
            + b" Tf "
            + _number(stretch)
            + b" Tz 1 0 0 1 "
            + _number(x)
            + b" "
            + _number(y)
            + b" Tm "
            + _pdf_text(word.text)
            + b" Tj\n"
        )
    parts.append(b"ET\n")
    return b"".join(parts)
