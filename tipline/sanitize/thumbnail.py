"""Thumbnails: a small JPEG of a cleaned picture, for the editors' tip page.

    data = thumbnail_jpeg(source, max_side=320)  # bytes, or None

``source`` is the cleaned file, readable and seekable (the decrypting reader).
The result is held in memory only (a few tens of KiB); the caller encrypts it.
Like the sanitizers this is pure: no ORM, no paths, no temporary files.

What it guards against: the file is decoded with only the Pillow plugin its
sniffed type calls for (so Pillow never guesses, and never reaches the EPS
plugin's Ghostscript), the pixel cap is checked before decoding
(``check_pixels`` and Pillow's DecompressionBombWarning as an error, as in
images.py), JPEG is decoded at a reduced scale (``draft``), and only the
first frame of an animation is decoded. The output is a fresh image written
with an empty ``info``: no EXIF, no ICC profile, no comment (Pillow's JPEG
writer would otherwise copy a comment from the source). Colours are converted
to sRGB first when the picture carries a profile, since the thumbnail has none.

Anything that is not a picture we can read gives ``None``; so does a damaged
or oversized one. Programming errors (TypeError, AttributeError ...) propagate.
"""

from __future__ import annotations

import io
import logging
import struct
import warnings
import zlib
from typing import BinaryIO

from PIL import Image, ImageCms

from . import limits as limits_module
from .images import FORMATS as PILLOW_FORMATS
from .images import TRANSPOSE, _orientation
from .limits import Limits, SanitizeError, check_pixels
from .sniff import sniff

logger = logging.getLogger(__name__)

FORMATS = {
    "image/jpeg": ["JPEG"],
    "image/png": ["PNG"],
    "image/gif": ["GIF"],
    "image/webp": ["WEBP"],
    **PILLOW_FORMATS,
}
QUALITY = 80
WHITE = (255, 255, 255)
# What Pillow and its codecs raise on bad input (compare INPUT_ERRORS in __init__.py,
# which cannot be imported here without a cycle). RuntimeError covers libheif,
# libavif, NotImplementedError (unsupported variants) and RecursionError.
DECODE_ERRORS = (
    SanitizeError,
    OSError,
    ValueError,
    EOFError,
    SyntaxError,
    struct.error,
    zlib.error,
    IndexError,
    KeyError,
    OverflowError,
    MemoryError,
    RuntimeError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def thumbnail_jpeg(
    source: BinaryIO, *, max_side: int = 320, limits: Limits | None = None
) -> bytes | None:
    """A baseline JPEG of the first frame, upright, at most ``max_side`` pixels a side."""
    if max_side < 1:
        raise ValueError("max_side must be positive")
    kind = sniff(source)
    formats = FORMATS.get(kind.mime)
    if formats is None:
        return None
    try:
        # Changes process-wide warning filters: callers run one file at a time.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="PIL")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            source.seek(0)
            with Image.open(source, formats=formats) as im:
                small = _small_upright(im, max_side, limits or limits_module.limits)
            return _encode(small)
    except DECODE_ERRORS as exc:
        # The type and the exception class only: never content. DEBUG: a line per
        # file would date its arrival (a picture that does not decode is no fault).
        logger.debug("thumbnail: none for %s (%s)", kind.mime, type(exc).__name__)
        return None


def _small_upright(im: Image.Image, max_side: int, lim: Limits) -> Image.Image:
    check_pixels(im.width, im.height, lim)  # only the first frame is ever decoded
    im.draft("RGB", (2 * max_side, 2 * max_side))  # JPEG: decode at 1/2 to 1/8 scale
    im.load()
    # Read after loading: Pillow has then applied a TIFF orientation itself (and
    # dropped the tag), and a PNG's eXIf chunk may come after the pixels.
    orientation = _orientation(im)
    icc = im.info.get("icc_profile")
    small = _eight_bit(im)
    small.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    small = _on_white(_to_srgb(small, icc))
    if orientation in TRANSPOSE:
        small = small.transpose(TRANSPOSE[orientation])
    return small


def _eight_bit(im: Image.Image) -> Image.Image:
    """A mode that resizes well: L, LA, RGB, RGBA or CMYK."""
    if im.mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return im
    if im.mode in ("P", "PA"):
        has_alpha = im.mode == "PA" or "transparency" in im.info
        return im.convert("RGBA" if has_alpha else "RGB")
    if im.mode == "F" or im.mode == "I" or im.mode.startswith("I;16"):
        return _grey_from_wide(im)
    if im.mode in ("RGBa", "La"):
        return im.convert(im.mode.upper())
    return im.convert("RGB")  # 1, RGBX, YCbCr, LAB, HSV ...


def _grey_from_wide(im: Image.Image) -> Image.Image:
    """16-bit and 32-bit grey: Pillow's own conversion would clip to white."""
    if im.mode.startswith("I;16"):
        low, high = 0.0, 65535.0
    else:
        lowest, highest = im.getextrema()
        # F and I pictures have one band, so a (min, max) pair of numbers.
        if isinstance(lowest, tuple) or isinstance(highest, tuple):
            raise TypeError(f"one band expected, not mode {im.mode}")
        low, high = float(lowest), float(highest)
    scale = 255.0 / (high - low) if high > low else 0.0
    return im.convert("F").point(lambda v: (v - low) * scale).convert("L")


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """Colour-manage into sRGB (a Display P3 photo, a CMYK scan); plain conversion otherwise."""
    if icc and im.mode in ("RGB", "RGBA", "CMYK"):
        out_mode = "RGBA" if im.mode == "RGBA" else "RGB"
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(im, source, _SRGB, outputMode=out_mode)
        except (ImageCms.PyCMSError, OSError, ValueError):
            converted = None  # a profile LittleCMS cannot use: fall back below
        if converted is not None:
            return converted
    return im if im.mode in ("RGB", "RGBA", "LA", "L") else im.convert("RGB")


def _on_white(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA"):
        background = Image.new("RGBA", im.size, WHITE)
        return Image.alpha_composite(background, im.convert("RGBA")).convert("RGB")
    return im.convert("RGB")


def _encode(im: Image.Image) -> bytes:
    fresh = Image.new("RGB", im.size)
    fresh.paste(im)  # the pixels alone: no info dict to leak a comment, EXIF or ICC
    out = io.BytesIO()
    fresh.save(out, format="JPEG", quality=QUALITY, optimize=True, progressive=False)
    return out.getvalue()
