"""PNG (and APNG): rebuild the file from an allowlist of chunks, copying the image
data bytes as they are, so the pixels are exactly the same.

Kept: IHDR, PLTE, IDAT, IEND, transparency (tRNS), colour and display chunks
(gAMA, cHRM, sRGB, sBIT, bKGD, pHYs, cICP, mDCv, cLLi), animation (acTL, fcTL,
fdAT), a standard colour profile (iCCP, rebuilt, see icc.py), and an eXIf
chunk holding only the Orientation tag when the picture is rotated (browsers
apply it).

Removed: text chunks (tEXt, zTXt, iTXt: comments, author, XMP, raw EXIF
profiles ...), tIME, the full eXIf, Apple's iDOT, suggested palettes,
unknown/private chunks, and anything after IEND.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

from .common import Context, Reader
from .exif import minimal_exif, read_exif, report_exif
from .icc import sanitize_icc
from .limits import Damaged, LimitExceeded, check_pixels
from .report import Report
from .tracking_dots import lossless_or_masked

SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEEP = {
    b"PLTE",
    b"IDAT",
    b"tRNS",
    b"gAMA",
    b"cHRM",
    b"sRGB",
    b"sBIT",
    b"bKGD",
    b"pHYs",
    b"cICP",
    b"mDCv",
    b"cLLi",
    b"acTL",
    b"fcTL",
    b"fdAT",
}
STREAMED = {b"IDAT", b"fdAT"}
TEXT = {b"tEXt", b"zTXt", b"iTXt"}
KEYWORDS = {
    b"author": "author",
    b"copyright": "author",
    b"comment": "comments",
    b"title": "description",
    b"description": "description",
    b"disclaimer": "description",
    b"warning": "description",
    b"creation time": "creation_time",
    b"date:create": "creation_time",
    b"date:modify": "creation_time",
    b"date:timestamp": "creation_time",
    b"software": "software",
    b"source": "camera",
    b"xml:com.adobe.xmp": "xmp",
    b"raw profile type exif": "exif",
    b"raw profile type app1": "exif",
    b"raw profile type iptc": "iptc",
    b"raw profile type xmp": "xmp",
    b"raw profile type 8bim": "iptc",
}
MAX_CHUNK = 16 * 1024 * 1024  # for chunks we hold in memory


def sanitize_png(src: BinaryIO, dst: BinaryIO, ctx: Context) -> Report:
    """Clean losslessly; a printed page with tracking dots is re-encoded with them masked."""
    return lossless_or_masked(src, dst, ctx, _sanitize_png_lossless, "PNG")


def _sanitize_png_lossless(src: BinaryIO, dst: BinaryIO, ctx: Context) -> Report:
    report = ctx.new_report()
    r = Reader(src)
    if r.read(8) != SIGNATURE:
        raise Damaged("not_png", "bad PNG signature")
    length, kind = struct.unpack(">I4s", r.read(8))
    if kind != b"IHDR" or length != 13:
        raise Damaged("bad_structure", "PNG does not start with IHDR")
    ihdr = r.read(13)
    _check_crc(kind, ihdr, r.read(4))
    width, height = struct.unpack(">II", ihdr[:8])
    check_pixels(width, height, ctx.limits)
    dst.write(SIGNATURE)
    _write_chunk(dst, b"IHDR", ihdr)
    orientation_done = False
    header_bytes = 0
    while True:
        length, kind = struct.unpack(">I4s", r.read(8))
        if length > 0x7FFFFFFF:
            raise Damaged("bad_structure", "PNG chunk length out of range")
        if kind in STREAMED:
            dst.write(struct.pack(">I", length) + kind)
            _copy_checked(r, dst, kind, length)
            continue
        if length > MAX_CHUNK:
            raise LimitExceeded("too_large", "PNG chunk over the size limit")
        header_bytes += length
        if header_bytes > ctx.limits.max_header_bytes:
            raise LimitExceeded("too_large", "PNG chunks over the size limit")
        data = r.read(length)
        crc = r.read(4)
        if kind == b"IEND":
            _write_chunk(dst, b"IEND", b"")
            if not r.at_eof():
                report.add("trailing_data")
            break
        if kind in KEEP:
            if not _crc_ok(kind, data, crc):
                if kind == b"PLTE":
                    raise Damaged("bad_checksum", "PNG palette checksum mismatch")
                report.add("other")  # a corrupt ancillary chunk: decoders skip it too
                continue
            if kind == b"acTL" and len(data) >= 4:
                check_pixels(width, height, ctx.limits, struct.unpack(">I", data[:4])[0])
            _write_chunk(dst, kind, data)
        elif kind == b"iCCP":
            _icc(dst, data, ctx, report)
        elif kind == b"eXIf":
            info = read_exif(data)
            report_exif(info, report)
            if info.orientation and info.orientation != 1 and not orientation_done:
                _write_chunk(dst, b"eXIf", minimal_exif(info.orientation))
                report.note("orientation_kept")
                orientation_done = True
        elif kind in TEXT:
            keyword = data.split(b"\x00", 1)[0].strip().lower()
            report.add(KEYWORDS.get(keyword, "text"))
        elif kind == b"tIME":
            report.add("creation_time")
        elif kind[0] & 0x20 == 0:  # an unknown critical chunk: we cannot drop it safely
            raise Damaged("unsupported_chunk", "unknown critical PNG chunk")
        else:
            report.add("other")
        ctx.deadline.check()
    report.note("lossless")
    return report


def _icc(dst: BinaryIO, data: bytes, ctx: Context, report: Report) -> None:
    name, _, rest = data.partition(b"\x00")
    profile = b""
    if rest[:1] == b"\x00":
        inflater = zlib.decompressobj()
        try:
            profile = inflater.decompress(rest[1:], ctx.limits.max_icc_bytes + 1)
        except zlib.error:
            profile = b""
    kept = sanitize_icc(profile, ctx.limits.max_icc_bytes) if profile else None
    if kept is None:
        report.add("icc")
        report.note("icc_removed")
        return
    _write_chunk(dst, b"iCCP", b"ICC profile\x00\x00" + zlib.compress(kept[0], 9))
    report.note("icc_kept")


def _write_chunk(dst: BinaryIO, kind: bytes, data: bytes) -> None:
    dst.write(struct.pack(">I", len(data)) + kind)
    dst.write(data)
    dst.write(struct.pack(">I", zlib.crc32(data, zlib.crc32(kind))))


def _crc_ok(kind: bytes, data: bytes, crc: bytes) -> bool:
    return struct.unpack(">I", crc)[0] == zlib.crc32(data, zlib.crc32(kind))


def _check_crc(kind: bytes, data: bytes, crc: bytes) -> None:
    if not _crc_ok(kind, data, crc):
        raise Damaged("bad_checksum", "PNG chunk checksum mismatch")


def _copy_checked(r: Reader, dst: BinaryIO, kind: bytes, length: int) -> None:
    crc = zlib.crc32(kind)
    while length > 0:
        if not r.fill(1):
            raise Damaged("truncated", "unexpected end of file")
        take = min(length, len(r.buf) - r.pos)
        piece = r.buf[r.pos : r.pos + take]
        crc = zlib.crc32(piece, crc)
        dst.write(piece)
        r.pos += take
        length -= take
    stored = r.read(4)
    if struct.unpack(">I", stored)[0] != crc:
        raise Damaged("bad_checksum", "PNG image data checksum mismatch")
    dst.write(stored)
