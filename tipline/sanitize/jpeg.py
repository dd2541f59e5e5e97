"""JPEG: remove metadata by walking the marker structure; the pixels are never
decoded or re-encoded, so the picture is bit-for-bit the same.

Kept: the frame, tables and scans (SOFn, DHT, DQT, DRI, DAC, DNL, SOS and the
entropy-coded data), a regenerated JFIF APP0 without thumbnail, a regenerated
Adobe APP14 (its colour-transform flag is needed to decode RGB/CMYK JPEGs), a
standard colour profile (rebuilt, see icc.py), and a minimal EXIF block holding
only the Orientation tag when the picture is rotated (so it displays the right
way up; rotating losslessly would need jpegtran-style DCT transforms).

Removed: every other APPn (EXIF with GPS, MakerNotes and thumbnail, XMP and
extended XMP, IPTC/Photoshop, MPF, FlashPix, Ducky, JFXX thumbnails ...), COM
comments, unknown markers, and everything after the end-of-image marker (MPF
secondary images, appended archives of a polyglot).

The walk streams: it holds the header segments in memory (capped) and copies
the entropy-coded data in chunks.
"""

from __future__ import annotations

import re
import struct
from typing import BinaryIO

from .common import Context, Reader
from .exif import minimal_exif, read_exif, report_exif
from .icc import sanitize_icc
from .limits import Damaged, LimitExceeded, check_pixels
from .report import Report
from .tracking_dots import lossless_or_masked

SOI, EOI, SOS, COM = 0xD8, 0xD9, 0xDA, 0xFE
APP0, APP1, APP2, APP13, APP14 = 0xE0, 0xE1, 0xE2, 0xED, 0xEE
SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7}
# Segments that decoding needs (besides SOF and SOS): DHT, DAC, DQT, DNL, DRI, DHP, EXP, LSE.
TABLES = {0xC4, 0xCC, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, 0xF8}
STANDALONE = set(range(0xD0, 0xD8)) | {0x01}
# In entropy-coded data, 0xFF is followed by 0x00 (stuffing), RSTn or more 0xFF.
MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
ICC_CHUNK = 65519
XMP_IDS = (b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")


def sanitize_jpeg(src: BinaryIO, dst: BinaryIO, ctx: Context) -> Report:
    """Clean losslessly; a printed page with tracking dots is re-encoded with them masked."""
    return lossless_or_masked(src, dst, ctx, _sanitize_jpeg_lossless, "JPEG")


def _sanitize_jpeg_lossless(src: BinaryIO, dst: BinaryIO, ctx: Context) -> Report:
    report = ctx.new_report()
    clean_jpeg(src, dst, ctx, report)
    report.note("lossless")
    return report


def clean_jpeg(
    src: BinaryIO,
    dst: BinaryIO,
    ctx: Context,
    report: Report,
    *,
    check_size: bool = True,
    keep_avi1: bool = False,
) -> None:
    """Copy the JPEG in ``src`` to ``dst`` without metadata; add what went to ``report``."""
    r = Reader(src)
    if r.read(2) != b"\xff\xd8":
        raise Damaged("not_jpeg", "no start-of-image marker")
    header, first_sos = _read_header(r, ctx)
    out = _clean_header(header, ctx, report, check_size=check_size, keep_avi1=keep_avi1)
    dst.write(b"\xff\xd8")
    for marker, payload in out:
        _write_segment(dst, marker, payload)
    _write_segment(dst, SOS, first_sos)
    _copy_scans(r, dst, ctx, report)


def _read_header(r: Reader, ctx: Context) -> tuple[list[tuple[int, bytes]], bytes]:
    segments: list[tuple[int, bytes]] = []
    total = 0
    while True:
        marker = _next_marker(r)
        if marker in STANDALONE:
            continue
        if marker in (SOI, EOI):
            raise Damaged("bad_structure", "image ends before its first scan")
        payload = _read_payload(r)
        if marker == SOS:
            return segments, payload
        total += len(payload)
        if total > ctx.limits.max_header_bytes:
            raise LimitExceeded("too_large", "JPEG header segments over the limit")
        segments.append((marker, payload))


def _next_marker(r: Reader) -> int:
    if r.read(1) != b"\xff":
        raise Damaged("bad_structure", "expected a JPEG marker")
    marker = r.read(1)[0]
    while marker == 0xFF:  # fill bytes
        marker = r.read(1)[0]
    return marker


def _read_payload(r: Reader) -> bytes:
    length = struct.unpack(">H", r.read(2))[0]
    if length < 2:
        raise Damaged("bad_structure", "JPEG segment length too small")
    return r.read(length - 2)


def _write_segment(dst: BinaryIO, marker: int, payload: bytes) -> None:
    dst.write(bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2))
    dst.write(payload)


def _clean_header(
    segments: list[tuple[int, bytes]],
    ctx: Context,
    report: Report,
    *,
    check_size: bool,
    keep_avi1: bool,
) -> list[tuple[int, bytes]]:
    jfif: bytes | None = None
    adobe: bytes | None = None
    avi1: bytes | None = None
    orientation: int | None = None
    icc_chunks: list[tuple[int, bytes]] = []
    kept: list[tuple[int, bytes]] = []
    has_frame = False
    for marker, payload in segments:
        if marker in SOF:
            if len(payload) < 6:
                raise Damaged("bad_structure", "short frame header")
            height, width = struct.unpack(">HH", payload[1:5])
            if check_size:
                check_pixels(width, height, ctx.limits)
            has_frame = True
            kept.append((marker, payload))
        elif marker in TABLES:
            kept.append((marker, payload))
        elif marker == APP0 and payload.startswith(b"JFIF\x00") and len(payload) >= 14:
            if jfif is None:
                jfif = payload[:12] + b"\x00\x00"
            if payload[12] or payload[13]:
                report.add("thumbnail")
        elif marker == APP0 and payload.startswith(b"JFXX\x00"):
            report.add("thumbnail")
        elif marker == APP0 and payload.startswith(b"AVI1") and keep_avi1:
            avi1 = payload
        elif marker == APP1 and payload.startswith(b"Exif\x00"):
            info = read_exif(payload[6:])
            if orientation is None:
                orientation = info.orientation or 1
            report_exif(info, report)
        elif marker == APP1 and payload.startswith(XMP_IDS):
            report.add("xmp")
        elif marker == APP2 and payload.startswith(b"ICC_PROFILE\x00") and len(payload) > 14:
            icc_chunks.append((payload[12], payload[14:]))
        elif marker == APP2 and payload.startswith(b"MPF\x00"):
            report.add("secondary_images")
        elif marker == APP13:
            report.add("iptc")
        elif marker == APP14 and payload.startswith(b"Adobe") and len(payload) >= 12:
            adobe = b"Adobe\x00\x64\x00\x00\x00\x00" + payload[11:12]
        elif marker == COM:
            report.add("comments")
        else:
            report.add("other")
    if not has_frame:
        raise Damaged("bad_structure", "no frame header before the first scan")
    head: list[tuple[int, bytes]] = []
    if jfif is not None:
        head.append((APP0, jfif))
    if avi1 is not None:
        head.append((APP0, avi1))
    if orientation and orientation != 1:
        head.append((APP1, b"Exif\x00\x00" + minimal_exif(orientation)))
        report.note("orientation_kept")
    if adobe is not None:
        head.append((APP14, adobe))
    head.extend(_icc_segments(icc_chunks, ctx, report))
    return head + kept


def _icc_segments(
    chunks: list[tuple[int, bytes]], ctx: Context, report: Report
) -> list[tuple[int, bytes]]:
    if not chunks:
        return []
    profile = b"".join(data for _seq, data in sorted(chunks, key=lambda c: c[0]))
    kept = sanitize_icc(profile, ctx.limits.max_icc_bytes)
    if kept is None:
        report.add("icc")
        report.note("icc_removed")
        return []
    report.note("icc_kept")
    data = kept[0]
    parts = [data[i : i + ICC_CHUNK] for i in range(0, len(data), ICC_CHUNK)]
    return [
        (APP2, b"ICC_PROFILE\x00" + bytes((i + 1, len(parts))) + part)
        for i, part in enumerate(parts)
    ]


def _copy_scans(r: Reader, dst: BinaryIO, ctx: Context, report: Report) -> None:
    """Copy entropy-coded data and the segments between scans, up to EOI."""
    while True:
        _copy_entropy(r, dst)
        marker = _next_marker(r)
        if marker == EOI:
            dst.write(b"\xff\xd9")
            trailing = r.remaining()
            if trailing:
                if r.peek(3) == b"\xff\xd8\xff":
                    if not report.count("secondary_images"):
                        report.add("secondary_images")
                else:
                    report.add("trailing_data")
            return
        if marker in STANDALONE:
            dst.write(bytes((0xFF, marker)))
            continue
        payload = _read_payload(r)
        if marker == SOS or marker in TABLES or marker in SOF:
            _write_segment(dst, marker, payload)
        elif marker == COM:
            report.add("comments")
        else:
            report.add("other")
        ctx.deadline.check()


def _copy_entropy(r: Reader, dst: BinaryIO) -> None:
    while True:
        match = MARKER.search(r.buf, r.pos)
        if match is not None:
            dst.write(r.buf[r.pos : match.start()])
            r.pos = match.start()
            return
        end = len(r.buf)
        if end > r.pos and r.buf[end - 1] == 0xFF:
            end -= 1
        dst.write(r.buf[r.pos : end])
        r.pos = end
        if not r.fill(len(r.buf) - r.pos + 1):
            raise Damaged("truncated", "image data ends without an end-of-image marker")
