"""GIF (animated too): rebuild the block structure, copying image data as it is.

Every frame, its palette, transparency, delay and disposal (graphic control
extension) and the loop count (NETSCAPE2.0 / ANIMEXTS1.0 application extension)
are kept byte for byte, so pixels and timing are unchanged. Removed: comment
extensions, plain-text extensions, other application extensions (XMP, ICC
profiles, editor data) and anything after the trailer.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from .common import Context, Reader
from .limits import Damaged, LimitExceeded, check_pixels
from .report import Report

LOOP_APPS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")


def sanitize_gif(src: BinaryIO, dst: BinaryIO, ctx: Context) -> Report:
    report = ctx.new_report()
    r = Reader(src)
    header = r.read(6)
    if header not in (b"GIF87a", b"GIF89a"):
        raise Damaged("not_gif", "bad GIF signature")
    screen = r.read(7)
    width, height, packed = struct.unpack("<HHB", screen[:5])
    check_pixels(width, height, ctx.limits)
    dst.write(header + screen)
    if packed & 0x80:
        dst.write(r.read(3 << ((packed & 7) + 1)))
    frames = 0
    while True:
        if frames and r.at_eof():  # a missing trailer: browsers accept it, so do we
            dst.write(b"\x3b")
            break
        introducer = r.read(1)
        if introducer == b"\x3b":
            dst.write(introducer)
            if not r.at_eof():
                report.add("trailing_data")
            break
        if introducer == b"\x2c":
            frames += 1
            if frames > ctx.limits.max_frames:
                raise LimitExceeded("too_many_frames", "more GIF frames than the limit")
            descriptor = r.read(9)
            fw, fh, fpacked = struct.unpack("<HHB", descriptor[4:9])
            check_pixels(max(fw, 1), fh, ctx.limits)
            dst.write(introducer + descriptor)
            if fpacked & 0x80:
                dst.write(r.read(3 << ((fpacked & 7) + 1)))
            dst.write(r.read(1))  # LZW minimum code size
            _copy_blocks(r, dst)
        elif introducer == b"\x21":
            _extension(r, dst, report)
        else:
            raise Damaged("bad_structure", "unknown GIF block")
        ctx.deadline.check()
    if frames == 0:
        raise Damaged("bad_structure", "GIF without an image")
    report.note("lossless")
    return report


def _extension(r: Reader, dst: BinaryIO, report: Report) -> None:
    label = r.read(1)
    if label == b"\xf9":  # graphic control: delay, disposal, transparency
        dst.write(b"\x21" + label)
        _copy_blocks(r, dst)
        return
    if label == b"\xff":
        size = r.read(1)
        ident = r.read(size[0])
        if ident in LOOP_APPS:
            dst.write(b"\x21" + label + size + ident)
            _copy_blocks(r, dst)
            return
        report.add({b"XMP DataXMP": "xmp", b"ICCRGBG1012": "icc"}.get(ident, "other"))
        if ident == b"ICCRGBG1012":
            report.note("icc_removed")
    elif label == b"\xfe":
        report.add("comments")
    elif label == b"\x01":
        report.add("text")
    else:
        report.add("other")
    _skip_blocks(r)


def _copy_blocks(r: Reader, dst: BinaryIO) -> None:
    while True:
        size = r.read(1)
        if size == b"\x00":
            dst.write(size)
            return
        dst.write(size + r.read(size[0]))


def _skip_blocks(r: Reader) -> None:
    while True:
        size = r.read(1)[0]
        if size == 0:
            return
        r.read(size)
