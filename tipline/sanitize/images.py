"""Formats cleaned by decoding with Pillow and writing a fresh file from the
pixels alone: TIFF, BMP, PNM (PPM/PGM/PBM), HEIC/HEIF (pillow-heif) and AVIF.

TIFF, BMP and PNM are written losslessly (TIFF keeps its lossless compression;
JPEG-compressed TIFF becomes Deflate so pixels stay identical to the decoded
original). HEIC/HEIF and AVIF cannot be rebuilt losslessly here, so they are
re-encoded at high quality (status ``cleaned_reencoded``). The orientation is
applied to the pixels, so no orientation tag is needed.

Pillow traps avoided: a new image is built from the decoded pixels with an
empty ``info`` (a plain re-save would carry ICC profiles, comments, EXIF and,
for TIFF, the original's XMP/IPTC/Photoshop tags via ``tag_v2``). Pillow's
DecompressionBombWarning is an error here, and our own pixel cap is checked
before decoding.
"""

from __future__ import annotations

import struct
import warnings
from typing import Any, BinaryIO

import pillow_heif
from PIL import Image, ImageSequence, TiffImagePlugin

from .common import Context, copy_stream, stream_size
from .exif import TAG_CODES, read_exif, report_exif
from .heif import NotLossless, rebuild
from .icc import sanitize_icc
from .limits import Damaged, LimitExceeded, Unsupported, check_pixels
from .report import Report, SanitizeStatus
from .tracking_dots import MASKED, POSSIBLE, inspect, note

pillow_heif.register_heif_opener(thumbnails=True, depth_images=True, aux_images=True)

FORMATS = {
    "image/tiff": ["TIFF"],
    "image/bmp": ["BMP", "DIB"],
    "image/x-portable-anymap": ["PPM"],
    "image/heic": ["HEIF"],
    "image/heif": ["HEIF"],
    "image/avif": ["AVIF"],
}
LOSSLESS_TIFF = {"raw", "tiff_lzw", "tiff_adobe_deflate", "tiff_deflate", "packbits"}
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# TIFF tags that only describe the pixel layout; anything else is reported.
TIFF_LAYOUT = {
    254,
    255,
    256,
    257,
    258,
    259,
    262,
    263,
    266,
    273,
    274,
    277,
    278,
    279,
    280,
    281,
    282,
    283,
    284,
    290,
    291,
    292,
    293,
    296,
    301,
    317,
    318,
    319,
    320,
    322,
    323,
    324,
    325,
    332,
    338,
    339,
    340,
    341,
    347,
    529,
    530,
    531,
    532,
}
TIFF_CODES = {
    **TAG_CODES,
    270: "description",
    305: "software",
    306: "creation_time",
    315: "author",
    33432: "author",
    700: "xmp",
    33723: "iptc",
    34377: "iptc",
    34665: "exif",
    34853: "gps",
    37724: "iptc",
    34675: "icc",
}
HEIF_QUALITY = 92
AVIF_QUALITY = 90


def sanitize_pillow(src: BinaryIO, dst: BinaryIO, ctx: Context) -> Report:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="PIL")  # odd metadata
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return _sanitize(src, dst, ctx)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise LimitExceeded("too_many_pixels", "image over Pillow's pixel limit") from exc
        except NotImplementedError as exc:  # a mode or compression Pillow cannot handle
            raise Unsupported("unsupported_variant", "image variant not supported") from exc
        except RuntimeError as exc:  # libavif/libheif report bad data this way
            raise Damaged("unreadable", "image decoder error") from exc


def _sanitize(src: BinaryIO, dst: BinaryIO, ctx: Context) -> Report:
    mime = ctx.kind.mime
    im = Image.open(src, formats=FORMATS[mime])
    check_pixels(im.width, im.height, ctx.limits, getattr(im, "n_frames", 1))
    if mime == "image/tiff":
        return _tiff(im, dst, ctx)
    if mime in ("image/heic", "image/heif", "image/avif"):
        lossless = _lossless_heif(src, dst, ctx, im.size)
        if lossless is not None:
            return lossless
        src.seek(0)
        im = Image.open(src, formats=FORMATS[mime])
    report = ctx.new_report()
    icc = _icc(im.info.get("icc_profile"), ctx, report)
    if mime == "image/bmp":
        src.seek(2)
        declared = int.from_bytes(src.read(4), "little")
        if stream_size(src) > declared >= 26:
            report.add("trailing_data")
        im.load()
        _without_dots(_fresh(im), ctx, report).save(dst, format="BMP")
        _lossless(report)
    elif mime == "image/x-portable-anymap":
        src.seek(0)
        if b"#" in src.read(1024).split(b"\n255", 1)[0]:
            report.add("comments")
        im.load()
        _without_dots(_fresh(im), ctx, report).save(dst, format="PPM")
        _lossless(report)
    else:
        _reencode(im, dst, ctx, report, icc)
    return report


def _lossless_heif(
    src: BinaryIO, dst: BinaryIO, ctx: Context, size: tuple[int, int]
) -> Report | None:
    """Rebuild the HEIF/AVIF container (see heif.py); None if we must re-encode."""
    report = ctx.new_report()
    attempt = ctx.scratch_factory()
    try:
        try:
            rebuild(src, attempt, ctx, report)
            attempt.seek(0)
            check = Image.open(attempt, formats=FORMATS[ctx.kind.mime])
            check.load()  # the result must decode, to the same size
            if check.size != size:
                return None
            if ctx.depth == 0:  # a page with tracking dots is re-encoded with them masked
                found = inspect(check)
                if found.masked is not None:
                    return None
                note(report, found)
        except (
            NotLossless,
            Damaged,
            OSError,
            ValueError,
            SyntaxError,
            RuntimeError,
            struct.error,
            IndexError,
            KeyError,
            EOFError,
        ):
            return None
        attempt.seek(0)
        copy_stream(attempt, dst)
    finally:
        attempt.close()
    report.note("lossless")
    return report


def _without_dots(im: Image.Image, ctx: Context, report: Report) -> Image.Image:
    """The pixels to write: printer tracking dots masked when a printed page has them.

    Pictures inside documents are not checked (``ctx.depth``); see tracking_dots.py.
    """
    if ctx.depth > 0:
        return im
    try:
        found = inspect(im)
    except MemoryError:  # detection could not run; the picture itself is fine
        report.note(POSSIBLE)
        return im
    note(report, found)
    return found.masked or im


def _lossless(report: Report) -> None:
    if MASKED not in report.notes:
        report.note("lossless")


def _fresh(im: Image.Image) -> Image.Image:
    """The pixels alone: no info dict, no tag_v2, no exif."""
    clean = im.copy()
    clean.info = {}
    return clean


def _icc(profile: bytes | None, ctx: Context, report: Report) -> bytes | None:
    if not profile:
        return None
    kept = sanitize_icc(profile, ctx.limits.max_icc_bytes)
    if kept is None:
        report.add("icc")
        report.note("icc_removed")
        return None
    report.note("icc_kept")
    return kept[0]


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except (OSError, ValueError, SyntaxError, KeyError, IndexError, TypeError):
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _upright(im: Image.Image, orientation: int, report: Report) -> Image.Image:
    if orientation in TRANSPOSE:
        report.note("orientation_applied")
        return im.transpose(TRANSPOSE[orientation])
    return im


def _reencode(
    im: Image.Image, dst: BinaryIO, ctx: Context, report: Report, icc: bytes | None
) -> None:
    info = im.info
    if info.get("exif"):
        report_exif(read_exif(info["exif"]), report)
    if info.get("xmp"):
        report.add("xmp")
    thumbnails = len(info.get("thumbnails") or [])
    report.add("thumbnail", thumbnails)
    extra = len(info.get("depth_images") or []) + sum(
        len(v) for v in (info.get("aux") or {}).values()
    )
    extra += max(getattr(im, "n_frames", 1) - 1, 0)
    report.add("secondary_images", extra)
    is_heif = ctx.kind.mime in ("image/heic", "image/heif")
    # pillow-heif has already applied the HEIF rotation/mirror; Pillow's AVIF
    # reader exposes it as an EXIF orientation instead.
    orientation = 1 if is_heif else _orientation(im)
    im.load()
    clean = _without_dots(_upright(_fresh(im), orientation, report), ctx, report)
    options: dict[str, Any] = {}
    if icc:
        options["icc_profile"] = icc
    if is_heif:
        chroma = info.get("chroma")
        if chroma in (420, 422, 444):
            options["chroma"] = chroma
        clean.save(dst, format="HEIF", quality=HEIF_QUALITY, **options)
    else:
        clean.save(dst, format="AVIF", quality=AVIF_QUALITY, speed=8, **options)
    report.status = SanitizeStatus.CLEANED_REENCODED
    report.note("reencoded")


def _tiff(im: Image.Image, dst: BinaryIO, ctx: Context) -> Report:
    report = ctx.new_report()
    pages: list[Image.Image] = []
    icc: bytes | None = None
    compression = "tiff_adobe_deflate"
    for index, frame in enumerate(ImageSequence.Iterator(im)):
        # The iterator seeks ``im`` and hands it back: each frame is the TIFF image.
        if not isinstance(frame, TiffImagePlugin.TiffImageFile):
            raise Damaged("bad_structure", "TIFF frame not read as TIFF")
        tags = dict(frame.tag_v2)
        if 50706 in tags or 330 in tags:  # DNG, or sub-IFDs (raw camera formats)
            raise Unsupported("unsupported_variant", "raw camera TIFF variant")
        check_pixels(frame.width, frame.height, ctx.limits)
        for tag in tags:
            if tag == 34675:  # the colour profile: handled below
                continue
            if tag in TIFF_CODES:
                report.add(TIFF_CODES[tag])
            elif tag not in TIFF_LAYOUT:
                report.add("other")
        if tags.get(254, 0) & 1 and index > 0:  # a reduced-resolution copy: a thumbnail
            report.add("thumbnail")
            continue
        if index == 0:
            icc = _icc(frame.info.get("icc_profile"), ctx, report)
            original = frame.info.get("compression", "raw")
            if original in LOSSLESS_TIFF or (original.startswith("group") and frame.mode == "1"):
                compression = original
        orientation = tags.get(274, 1)
        frame.load()
        if 274 in frame.tag_v2:  # older Pillow: not yet applied on load
            page = _upright(_fresh(frame), int(orientation or 1), report)
        else:  # Pillow >= 12 turns TIFF pictures the right way up when loading them
            if orientation in TRANSPOSE:
                report.note("orientation_applied")
            page = _fresh(frame)
        pages.append(_without_dots(page, ctx, report))
        ctx.deadline.check()
    if not pages:
        raise Damaged("bad_structure", "TIFF without a full-size image")
    options: dict[str, Any] = {"compression": compression}
    if icc:
        options["icc_profile"] = icc
    if len(pages) > 1:
        options.update(save_all=True, append_images=pages[1:])
    pages[0].save(dst, format="TIFF", **options)
    _lossless(report)
    return report
