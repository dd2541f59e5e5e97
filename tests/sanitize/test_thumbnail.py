"""thumbnail_jpeg(): a small, upright, metadata-free JPEG of a picture, or None.

Judged three ways: Pillow reads the output back (mode, size, pixel layout, no
EXIF/ICC/comment), the canary written into every metadata field of the input
is nowhere in the output bytes, and exiftool (when installed) lists nothing
beyond the JPEG's own structure.
"""

from __future__ import annotations

import io
import random
import struct
import subprocess
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageStat

from tipline.sanitize import Limits, thumbnail_jpeg

from . import makers
from ._support import CORPUS, Source, canary_hits, clean, exiftool, leftovers

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
# The only things Pillow may report about the output: its own JFIF header.
JFIF_INFO = {"jfif", "jfif_version", "jfif_unit", "jfif_density"}
ORIENTATION = CORPUS / "exif-samples/jpg/orientation"


def thumb(data: bytes, **kwargs) -> bytes | None:
    """Through a reader like the production one: seekable, no name, no fileno."""
    return thumbnail_jpeg(Source(data), **kwargs)


def opened(data: bytes | None) -> Image.Image:
    assert data is not None
    im = Image.open(io.BytesIO(data))
    assert im.format == "JPEG"
    im.load()
    return im


def assert_plain_jpeg(data: bytes | None, max_side: int = 320) -> Image.Image:
    im = opened(data)
    assert im.mode == "RGB"
    assert max(im.size) <= max_side
    assert set(im.info) <= JFIF_INFO, im.info  # no exif, icc_profile, comment, progressive, dpi
    assert not im.getexif()
    assert [marker for marker, _ in im.applist] == ["APP0"]
    assert b"\xff\xfe" not in data  # no COM segment
    assert b"\xff\xc2" not in data  # not progressive: a baseline frame
    return im


def colour_at(im: Image.Image, x: float, y: float) -> tuple[int, int, int]:
    return im.getpixel((int(x * (im.width - 1)), int(y * (im.height - 1))))


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def assert_colour(im: Image.Image, x: float, y: float, expected: tuple[int, int, int]) -> None:
    actual = colour_at(im, x, y)
    assert close_to(actual, expected), (x, y, actual, expected)


# ---------------------------------------------------------------- formats

MAKERS: dict[str, Callable[[Path], bytes]] = {
    "jpeg": makers.jpeg,
    "png": makers.png,
    "gif_animated_palette": makers.gif,
    "webp_lossy": makers.webp,
    "webp_lossless": lambda tmp: makers.webp(tmp, lossless=True),
    "webp_animated": lambda tmp: makers.webp(tmp, animated=True),
    "heic": makers.heic,
    "avif": makers.avif,
    "tiff": makers.tiff,
    "bmp": makers.bmp,
}


@pytest.fixture(scope="module")
def canary_pictures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Every maker's picture, its metadata fields full of the canary (needs exiftool)."""
    tmp = tmp_path_factory.mktemp("canary")
    return {name: make(tmp) for name, make in MAKERS.items()}


@pytest.mark.parametrize("name", MAKERS)
def test_every_picture_type_gives_a_plain_small_jpeg(
    canary_pictures: dict[str, bytes], name: str
) -> None:
    original = canary_pictures[name]
    assert canary_hits(original)  # the input does carry the canary
    for data in (original, clean(original)[1]):  # as uploaded, and as the worker sees it
        output = thumb(data)
        assert_plain_jpeg(output)
        assert canary_hits(output) == []
        assert len(output) < 30_000


@pytest.mark.parametrize("name", MAKERS)
def test_exiftool_finds_nothing_but_the_jpeg_itself(
    canary_pictures: dict[str, bytes], name: str, tmp_path: Path
) -> None:
    path = tmp_path / "thumb.jpg"
    path.write_bytes(thumb(canary_pictures[name]))
    tags = exiftool([path])[str(path)]  # skips when exiftool is not installed
    assert tags["File:MIMEType"] == "image/jpeg"
    assert leftovers(tags) == {}
    assert all(
        key.split(":")[0] in {"SourceFile", "ExifTool", "System", "File", "JFIF", "Composite"}
        for key in tags
    ), tags


def test_cleaned_corpus_pictures_all_get_a_thumbnail(tmp_path: Path) -> None:
    written = []
    for path in sorted(CORPUS.rglob("*")):
        if path.suffix.lower() not in {
            ".jpg",
            ".jpeg",
            ".png",
            ".gif",
            ".webp",
            ".heic",
            ".heif",
            ".avif",
            ".tif",
            ".tiff",
            ".bmp",
            ".ppm",
        }:
            continue
        report, cleaned = clean(path.read_bytes())
        if report.status not in ("cleaned", "cleaned_reencoded"):
            continue
        output = thumb(cleaned)
        assert output is not None, path
        assert_plain_jpeg(output)
        written.append(tmp_path / f"{len(written)}.jpg")
        written[-1].write_bytes(output)
    assert len(written) > 50
    for path, tags in exiftool(written).items():
        assert leftovers(tags) == {}, (path, leftovers(tags))


def test_the_size_is_capped_and_the_shape_kept() -> None:
    wide = makers.picture((2000, 500))
    buf = io.BytesIO()
    wide.save(buf, format="PNG")
    assert opened(thumb(buf.getvalue(), max_side=100)).size == (100, 25)
    assert opened(thumb(buf.getvalue())).size == (320, 80)


def test_a_small_picture_is_not_enlarged() -> None:
    buf = io.BytesIO()
    makers.picture((40, 30)).save(buf, format="PNG")
    assert opened(thumb(buf.getvalue())).size == (40, 30)


def test_a_large_jpeg_is_decoded_at_reduced_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import JpegImagePlugin

    decoded_sizes = []
    real_load = JpegImagePlugin.JpegImageFile.load

    def spy(self):
        result = real_load(self)
        decoded_sizes.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spy)
    buf = io.BytesIO()
    Image.new("RGB", (4000, 3000), RED).save(buf, format="JPEG")
    assert opened(thumb(buf.getvalue())).size == (320, 240)
    assert decoded_sizes[0] == (1000, 750)  # libjpeg scaled by 1/4 while decoding


# ---------------------------------------------------------------- pixels


def test_transparency_is_composited_on_white() -> None:
    im = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    im.paste((0, 0, 255, 255), (0, 0, 50, 100))  # left half opaque blue, right half transparent
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    out = assert_plain_jpeg(thumb(buf.getvalue()))
    assert_colour(out, 0.2, 0.5, BLUE)
    assert_colour(out, 0.8, 0.5, WHITE)  # not black, which is what a plain convert gives


def test_a_palette_gif_with_a_transparent_colour_is_on_white() -> None:
    im = Image.new("P", (60, 60), 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.paste(0, (30, 0, 60, 60))
    buf = io.BytesIO()
    im.save(buf, format="GIF", transparency=0)
    out = assert_plain_jpeg(thumb(buf.getvalue()))
    assert_colour(out, 0.2, 0.5, RED)
    assert_colour(out, 0.8, 0.5, WHITE)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_an_animation_gives_its_first_frame(fmt: str) -> None:
    frames = [Image.new("RGB", (64, 64), colour) for colour in (RED, GREEN, BLUE)]
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(io.BytesIO(buf.getvalue())).n_frames == 3
    out = assert_plain_jpeg(thumb(clean(buf.getvalue())[1]))
    assert_colour(out, 0.5, 0.5, RED)


def test_a_cmyk_jpeg_comes_out_rgb() -> None:
    buf = io.BytesIO()
    Image.new("CMYK", (64, 64), (0, 255, 255, 0)).save(buf, format="JPEG")  # red in ink
    out = assert_plain_jpeg(thumb(clean(buf.getvalue())[1]))
    assert_colour(out, 0.5, 0.5, RED)


def test_a_16_bit_grey_png_is_not_clipped_to_white() -> None:
    im = Image.new("I;16", (64, 64), 0x4000)  # a quarter of full scale
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    out = assert_plain_jpeg(thumb(clean(buf.getvalue())[1]))
    assert close_to(colour_at(out, 0.5, 0.5), (64, 64, 64), 8)


def test_a_display_p3_photo_is_converted_to_srgb_not_just_stripped() -> None:
    """The thumbnail has no profile, so a wide-gamut picture must be converted first."""
    from PIL import ImageCms

    p3 = Image.open(CORPUS / "exif-samples/heic/IMG_5195.HEIC").info["icc_profile"]
    im = Image.new("RGB", (64, 64), (40, 200, 60))
    buf = io.BytesIO()
    im.save(buf, format="PNG", icc_profile=p3)
    report, cleaned = clean(buf.getvalue())
    assert "icc_kept" in report.notes
    expected = ImageCms.profileToProfile(
        im, ImageCms.ImageCmsProfile(io.BytesIO(p3)), ImageCms.createProfile("sRGB")
    ).getpixel((0, 0))
    assert not close_to(expected, (40, 200, 60), 10)  # P3 green is outside sRGB
    out = assert_plain_jpeg(thumb(cleaned))
    assert close_to(colour_at(out, 0.5, 0.5), expected, 6)


# ---------------------------------------------------------------- orientation

# What to store so that a viewer applying EXIF orientation N shows the upright
# picture (EXIF 2.3, tag 0x0112): the inverse of each orientation's transform.
STORED_FOR = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # stored turned left; the viewer turns it right
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def upright() -> Image.Image:
    """A landscape picture with a different colour in each quarter."""
    im = Image.new("RGB", (160, 80), WHITE)
    im.paste(RED, (0, 0, 80, 40))
    im.paste(GREEN, (80, 0, 160, 40))
    im.paste(BLUE, (0, 40, 80, 80))
    return im


def stored(orientation: int, fmt: str) -> bytes:
    transform = STORED_FOR[orientation]
    im = upright() if transform is None else upright().transpose(transform)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, format=fmt, exif=exif.tobytes(), **({"quality": 95} if fmt != "PNG" else {}))
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_rotated_picture_comes_out_upright(orientation: int, fmt: str) -> None:
    report, cleaned = clean(stored(orientation, fmt))
    assert report.status == "cleaned"
    out = assert_plain_jpeg(thumb(cleaned))
    assert out.size == (160, 80)
    assert_colour(out, 0.25, 0.25, RED)
    assert_colour(out, 0.75, 0.25, GREEN)
    assert_colour(out, 0.25, 0.75, BLUE)
    assert_colour(out, 0.75, 0.75, WHITE)


@pytest.mark.parametrize("shape", ["landscape", "portrait"])
def test_real_camera_orientations_all_look_like_the_upright_one(shape: str) -> None:
    """The corpus holds one photo stored eight ways; every thumbnail matches number 1."""

    def grey(number: int) -> Image.Image:
        cleaned = clean((ORIENTATION / f"{shape}_{number}.jpg").read_bytes())[1]
        return assert_plain_jpeg(thumb(cleaned)).convert("L")

    reference = grey(1)
    mirrored = reference.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    wrong = ImageStat.Stat(ImageChops.difference(reference, mirrored)).mean[0]
    for number in range(2, 9):
        candidate = grey(number)
        assert candidate.size == reference.size
        difference = ImageStat.Stat(ImageChops.difference(reference, candidate)).mean[0]
        assert difference < min(8.0, wrong / 4), (number, difference, wrong)


# ---------------------------------------------------------------- hostile input


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_claiming(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + _png_chunk(b"IEND", b"")
    )


def _jpeg_claiming(width: int, height: int) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return (
        b"\xff\xd8"
        + sof
        + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
        + b"\x00" * 100
        + b"\xff\xd9"
    )


def _gif_claiming(width: int, height: int) -> bytes:
    return (
        b"GIF89a"
        + struct.pack("<HHBBB", width, height, 0, 0, 0)
        + b"\x2c"
        + struct.pack("<HHHHB", 0, 0, 1, 1, 0)
        + b"\x02\x02\x44\x01\x00\x3b"
    )


BOMBS = {
    "png_10_gigapixels": _png_claiming(100_000, 100_000),  # over Pillow's own hard limit
    "png_over_our_cap": _png_claiming(12_000, 9_000),  # 108 MP: over max_pixels
    "png_pillow_warning": _png_claiming(9_500, 9_500),  # 90 MP: trips Pillow's warning
    "jpeg_65000_square": _jpeg_claiming(65_000, 65_000),
    "gif_65535_square": _gif_claiming(65_535, 65_535),
}


@pytest.mark.parametrize("name", BOMBS)
def test_a_decompression_bomb_gives_none_quickly(name: str) -> None:
    start = time.monotonic()
    assert thumb(BOMBS[name]) is None
    assert time.monotonic() - start < 1


def test_the_pixel_limit_is_the_sanitizers_own() -> None:
    buf = io.BytesIO()
    makers.picture((64, 48)).save(buf, format="PNG")
    assert thumb(buf.getvalue(), limits=Limits(max_pixels=64 * 48)) is not None
    assert thumb(buf.getvalue(), limits=Limits(max_pixels=64 * 48 - 1)) is None


def test_the_bomb_warning_filter_does_not_leak_out() -> None:
    import warnings

    before = list(warnings.filters)
    thumb(BOMBS["png_pillow_warning"])
    assert warnings.filters == before


@pytest.mark.parametrize(
    "name",
    [
        "mat2/dirty.jpg",
        "mat2/dirty.png",
        "mat2/dirty.webp",
        "mat2/dirty.heic",
        "mat2/dirty.avif",
        "mat2/dirty.tiff",
        "mat2/dirty.bmp",
    ],
)
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_a_truncated_picture_gives_none(name: str, fraction: float) -> None:
    data = (CORPUS / name).read_bytes()
    start = time.monotonic()
    assert thumb(data[: int(len(data) * fraction)]) is None
    assert time.monotonic() - start < 2


def test_a_jpeg_that_cleans_but_does_not_decode_gives_none() -> None:
    buf = io.BytesIO()
    Image.effect_noise((200, 150), 60).convert("RGB").save(buf, format="JPEG")
    data = bytearray(buf.getvalue())
    dht = data.find(b"\xff\xc4")
    data[dht + 5 : dht + 21] = b"\xff" * 16  # impossible Huffman code counts
    report, cleaned = clean(bytes(data))
    assert report.status == "cleaned"  # the marker walk has nothing to object to
    assert thumb(cleaned) is None


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xd8\xff",
        b"\xff\xd8\xff\xe0" + bytes(random.Random(1).randbytes(5000)),
        b"\x89PNG\r\n\x1a\n" + bytes(random.Random(2).randbytes(5000)),
        b"GIF89a\x10\x00\x10\x00",
        b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(64),
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00heicmif1" + bytes(64),
        b"II*\x00" + struct.pack("<I", 0xFFFFFFF0),
        b"BM" + bytes(100),
        bytes(random.Random(3).randbytes(10_000)),
    ],
    ids=[
        "empty",
        "jpeg_magic",
        "jpeg_garbage",
        "png_garbage",
        "gif_header",
        "webp_empty",
        "heic_no_meta",
        "tiff_bad_offset",
        "bmp_zeros",
        "random",
    ],
)
def test_garbage_gives_none(data: bytes) -> None:
    assert thumb(data) is None


@pytest.mark.parametrize(
    "name",
    [
        "mat2/dirty.pdf",
        "mat2/dirty.txt",
        "mat2/dirty.docx",
        "mat2/dirty.svg",
        "mat2/dirty.mp4",
        "mat2/dirty.mp3",
        "mat2/dirty.jxl",
        "mat2/dirty.html",
    ],
)
def test_something_that_is_not_a_raster_picture_gives_none(name: str) -> None:
    assert thumb((CORPUS / name).read_bytes()) is None


def test_postscript_never_reaches_ghostscript(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args, **kwargs):
        raise AssertionError("a subprocess was started")

    monkeypatch.setattr(subprocess, "Popen", boom)
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    assert thumb(eps) is None
    assert thumb(b"\xc5\xd0\xd3\xc6" + bytes(28) + eps) is None  # DOS EPS binary header


def test_no_temporary_file_is_used(
    canary_pictures: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args, **kwargs):
        raise AssertionError("a temporary file was asked for")

    for name in (
        "mkstemp",
        "mkdtemp",
        "NamedTemporaryFile",
        "TemporaryFile",
        "SpooledTemporaryFile",
        "TemporaryDirectory",
    ):
        monkeypatch.setattr(tempfile, name, boom)
    for data in canary_pictures.values():
        assert thumb(data) is not None


def test_the_reader_is_left_open_for_the_caller() -> None:
    buf = io.BytesIO()
    makers.picture().save(buf, format="PNG")
    source = Source(buf.getvalue())
    assert thumbnail_jpeg(source) is not None
    assert not source.closed


def test_a_bad_size_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        thumb(b"", max_side=0)


PNG_SEED = io.BytesIO()
makers.picture((24, 16)).save(PNG_SEED, format="PNG")
JPEG_SEED = io.BytesIO()
makers.picture((24, 16)).save(JPEG_SEED, format="JPEG")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from([PNG_SEED.getvalue(), JPEG_SEED.getvalue()]),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    cut=st.integers(0, 10_000),
)
def test_mutated_pictures_never_raise(seed: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(seed)
    for position, value in flips:
        data[position % len(data)] = value
    result = thumb(bytes(data[: max(cut, 8)]))
    assert result is None or opened(result).size[0] <= 320
