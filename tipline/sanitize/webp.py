"""WebP: rebuild the RIFF container from an allowlist of chunks. The image
bitstreams (VP8, VP8L, ALPH, animation frames) are copied as they are, so lossy
stays lossy-unchanged and lossless stays lossless: nothing is re-encoded.

Kept: VP8X (with its EXIF/XMP/ICC flags corrected), ANIM, ANMF frames (their
unknown sub-chunks dropped), ALPH, VP8, VP8L, a standard colour profile (ICCP,
rebuilt, see icc.py), and an EXIF chunk holding only the Orientation tag when
the picture is rotated. Removed: EXIF, XMP, unknown chunks, bytes after the
RIFF size.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from .common import Context, Reader
from .exif import minimal_exif, read_exif, report_exif
from .icc import sanitize_icc
from .limits import Damaged, LimitExceeded, check_pixels
from .report import Report
from .tracking_dots import lossless_or_masked

FLAG_ICC, FLAG_ALPHA, FLAG_EXIF, FLAG_XMP, FLAG_ANIM = 0x20, 0x10, 0x08, 0x04, 0x02
IMAGE = {b"VP8 ", b"VP8L", b"ALPH"}
FRAME_KEEP = {b"VP8 ", b"VP8L", b"ALPH"}
MAX_FILE = 0xFFFFFFF0


def sanitize_webp(src: BinaryIO, dst: BinaryIO, ctx: Context) -> Report:
    """Clean losslessly; a printed page with tracking dots is re-encoded with them masked."""
    return lossless_or_masked(src, dst, ctx, _sanitize_webp_lossless, "WEBP")


def _sanitize_webp_lossless(src: BinaryIO, dst: BinaryIO, ctx: Context) -> Report:
    report = ctx.new_report()
    r = Reader(src)
    riff, size, webp = struct.unpack("<4sI4s", r.read(12))
    if riff != b"RIFF" or webp != b"WEBP":
        raise Damaged("not_webp", "bad WebP signature")
    if size > ctx.limits.max_zip_member_bytes:  # the whole image is held in memory
        raise LimitExceeded("too_large", "WebP over the size limit")
    chunks = _read_chunks(r, size - 4, ctx)
    if r.remaining() > 0:
        report.add("trailing_data")
    if not chunks:
        raise Damaged("bad_structure", "empty WebP")
    out: list[tuple[bytes, bytes]] = []
    first = chunks[0][0]
    if first in (b"VP8 ", b"VP8L"):
        out.append(chunks[0])
        report.add("other", len(chunks) - 1)  # the simple format has room for nothing else
    elif first == b"VP8X":
        out = _extended(chunks, ctx, report)
    else:
        raise Damaged("bad_structure", "WebP does not start with an image chunk")
    body = b"".join(_chunk(kind, data) for kind, data in out)
    dst.write(b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP")
    dst.write(body)
    report.note("lossless")
    return report


def _read_chunks(r: Reader, size: int, ctx: Context) -> list[tuple[bytes, bytes]]:
    chunks: list[tuple[bytes, bytes]] = []
    left = size
    while left >= 8 and not r.at_eof():
        kind, length = struct.unpack("<4sI", r.read(8))
        if length > MAX_FILE or length + 8 > left:
            raise Damaged("bad_structure", "WebP chunk runs past the end")
        data = r.read(length)
        if length & 1:
            r.read(1)
        chunks.append((kind, data))
        left -= 8 + length + (length & 1)
        if len(chunks) > ctx.limits.max_frames + 16:
            raise LimitExceeded("too_many_frames", "more WebP chunks than the limit")
    return chunks


def _extended(
    chunks: list[tuple[bytes, bytes]], ctx: Context, report: Report
) -> list[tuple[bytes, bytes]]:
    vp8x = chunks[0][1]
    if len(vp8x) < 10:
        raise Damaged("bad_structure", "short VP8X chunk")
    width = 1 + int.from_bytes(vp8x[4:7], "little")
    height = 1 + int.from_bytes(vp8x[7:10], "little")
    frames = sum(1 for kind, _ in chunks if kind == b"ANMF")
    check_pixels(width, height, ctx.limits, frames)
    flags = vp8x[0] & (FLAG_ALPHA | FLAG_ANIM)
    icc: list[tuple[bytes, bytes]] = []
    body: list[tuple[bytes, bytes]] = []
    tail: list[tuple[bytes, bytes]] = []
    for kind, data in chunks[1:]:
        if kind in IMAGE or kind == b"ANIM":
            body.append((kind, data))
        elif kind == b"ANMF":
            body.append((kind, _frame(data, report)))
        elif kind == b"ICCP":
            kept = sanitize_icc(data, ctx.limits.max_icc_bytes)
            if kept is None:
                report.add("icc")
                report.note("icc_removed")
            else:
                icc = [(b"ICCP", kept[0])]
                flags |= FLAG_ICC
                report.note("icc_kept")
        elif kind == b"EXIF":
            info = read_exif(data)
            report_exif(info, report)
            if info.orientation and info.orientation != 1 and not tail:
                tail = [(b"EXIF", minimal_exif(info.orientation))]
                flags |= FLAG_EXIF
                report.note("orientation_kept")
        elif kind == b"XMP ":
            report.add("xmp")
        else:
            report.add("other")
    if not body:
        raise Damaged("bad_structure", "WebP without image data")
    header = bytes((flags,)) + vp8x[1:10]
    return [(b"VP8X", header), *icc, *body, *tail]


def _frame(data: bytes, report: Report) -> bytes:
    """An ANMF frame: its 16-byte header, then only the image sub-chunks."""
    if len(data) < 16:
        raise Damaged("bad_structure", "short animation frame")
    out = [data[:16]]
    pos = 16
    while pos + 8 <= len(data):
        kind, length = struct.unpack("<4sI", data[pos : pos + 8])
        end = pos + 8 + length
        if end > len(data):
            raise Damaged("bad_structure", "animation frame chunk runs past the end")
        if kind in FRAME_KEEP:
            out.append(_chunk(kind, data[pos + 8 : end]))
        else:
            report.add("other")
        pos = end + (length & 1)
    return b"".join(out)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) & 1 else b"")
