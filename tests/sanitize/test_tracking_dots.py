"""Printer tracking dots (issue 15): found and masked in scans of printed pages, nothing else touched.

Every page is generated here like a 600 dpi scan: off-white paper with light
noise, black text, a sparse grid of faint yellow 0.1 mm dots every 1.27 mm
(30 px), a slight blur, JPEG at quality 90. The measures are pixel counts:
yellow specks left on plain paper, dark (text) pixels kept, yellow areas kept.
"""

from __future__ import annotations

import io
import random

import pytest
from django.utils import translation
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from tests.sanitize._support import CORPUS, clean
from tipline.report_text import describe
from tipline.sanitize import SanitizeStatus
from tipline.sanitize.tracking_dots import (
    dots_form_a_grid,
    looks_like_printed_page,
    yellow_dot_candidates,
)

WIDTH, HEIGHT = 2000, 2600
PITCH = 30
PAPER = (247, 246, 243)
TEXT_AREA = (100, 100, WIDTH - 100, 1300)
BLANK_AREA = (40, 1750, 1300, HEIGHT - 40)  # plain paper: nothing but dots
HIGHLIGHTER = (140, 1450, WIDTH - 300, 1510)
LOGO = (WIDTH - 560, HEIGHT - 560, WIDTH - 160, HEIGHT - 160)
MASKED, POSSIBLE = "tracking_dots_masked", "tracking_dots_possible"


def scanned_page(*, dots: bool = True, yellow_areas: bool = False, seed: int = 7) -> Image.Image:
    rnd = random.Random(seed)
    noise = Image.frombytes("L", (WIDTH, HEIGHT), rnd.randbytes(WIDTH * HEIGHT))
    noise = noise.point(lambda v: 122 + v * 12 // 255)  # +-6 grey levels, the same in R, G, B
    page = Image.merge(
        "RGB", [ImageChops.add(Image.new("L", (WIDTH, HEIGHT), v), noise, 1, -128) for v in PAPER]
    )
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=44)
    for top in range(TEXT_AREA[1], TEXT_AREA[3] - 60, 80):
        draw.text(
            (TEXT_AREA[0] + 20, top),
            "Pagos a la empresa pantalla, marzo " * 2,
            fill=(20, 20, 25),
            font=font,
        )
    if yellow_areas:
        draw.rectangle(HIGHLIGHTER, fill=(250, 240, 90))
        draw.ellipse(LOGO, fill=(245, 200, 20))
    if dots:
        for y in range(PITCH // 2, HEIGHT, PITCH):
            for x in range(PITCH // 3, WIDTH, PITCH):
                if rnd.random() < 0.5:  # a sparse pattern, as printers encode bits
                    draw.ellipse((x - 1, y - 1, x + 1, y + 1), fill=(252, 242, 150))
    return page.filter(ImageFilter.GaussianBlur(0.6))


def encoded(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {}), **options)
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.convert("RGB")


def yellow_specks(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    """Light pixels in ``box`` whose blue is at least 12 under red and green."""
    red, green, blue = image.crop(box).split()
    red_green = ImageChops.darker(red, green)
    yellow = ImageChops.subtract(red_green, blue).point(lambda v: 255 if v >= 12 else 0)
    light = red_green.point(lambda v: 255 if v >= 150 else 0)
    return ImageChops.multiply(yellow, light).histogram()[255]


def dark_pixels(image: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    return image.crop(box).convert("L").point(lambda v: 255 if v < 100 else 0)


@pytest.fixture(scope="module")
def dotted_jpeg() -> bytes:
    return encoded(scanned_page())


@pytest.fixture(scope="module")
def cleaned_dotted_jpeg(dotted_jpeg: bytes):
    return clean(dotted_jpeg)


def test_the_generated_page_really_has_dots(dotted_jpeg: bytes) -> None:
    """The control: the scan given to the cleaner has hundreds of yellow specks on blank paper."""
    assert yellow_specks(decoded(dotted_jpeg), BLANK_AREA) > 500


def test_dots_on_a_scanned_page_are_detected_and_masked(cleaned_dotted_jpeg) -> None:
    report, data = cleaned_dotted_jpeg
    assert MASKED in report.notes and POSSIBLE not in report.notes
    assert report.status == SanitizeStatus.CLEANED_REENCODED
    assert "lossless" not in report.notes  # the pixels did change
    assert data[:2] == b"\xff\xd8"
    assert yellow_specks(decoded(data), BLANK_AREA) == 0


def test_masking_keeps_the_text(dotted_jpeg: bytes, cleaned_dotted_jpeg) -> None:
    assert MASKED in cleaned_dotted_jpeg[0].notes
    before = dark_pixels(decoded(dotted_jpeg), TEXT_AREA)
    after = dark_pixels(decoded(cleaned_dotted_jpeg[1]), TEXT_AREA)
    text = before.histogram()[255]
    assert text > 50_000
    changed = ImageChops.difference(before, after).histogram()[255]
    assert changed < text * 0.01


def test_a_page_without_dots_gets_the_warning_not_the_mask() -> None:
    report, data = clean(encoded(scanned_page(dots=False)))
    assert POSSIBLE in report.notes and MASKED not in report.notes
    assert report.status == SanitizeStatus.CLEANED and "lossless" in report.notes


def test_highlighter_and_yellow_logo_are_not_erased() -> None:
    page = encoded(scanned_page(yellow_areas=True))
    report, data = clean(page)
    assert MASKED in report.notes
    before, after = decoded(page), decoded(data)
    for box in (HIGHLIGHTER, LOGO):
        inner = (box[0] + 20, box[1] + 20, box[2] - 20, box[3] - 20) if box is LOGO else box
        kept = yellow_specks(after, inner)
        assert kept >= 0.99 * yellow_specks(before, inner) > 10_000
    assert yellow_specks(after, BLANK_AREA) == 0


def test_ordinary_photos_get_neither_note() -> None:
    rnd = random.Random(3)
    photo = Image.new("RGB", (1600, 1200))
    draw = ImageDraw.Draw(photo)
    for _ in range(400):
        x, y = rnd.randrange(1600), rnd.randrange(1200)
        colour = tuple(rnd.randrange(256) for _ in range(3))
        draw.ellipse((x, y, x + rnd.randrange(20, 300), y + rnd.randrange(20, 300)), fill=colour)
    for data in (encoded(photo), (CORPUS / "exif-samples" / "jpg" / "Canon_40D.jpg").read_bytes()):
        report, _ = clean(data)
        assert report.status == SanitizeStatus.CLEANED
        assert MASKED not in report.notes and POSSIBLE not in report.notes


def test_random_yellow_specks_are_not_a_grid() -> None:
    """Dust or yellow paper fibres: as many specks as a dot grid, but at random places."""
    rnd = random.Random(5)
    page = scanned_page(dots=False)
    draw = ImageDraw.Draw(page)
    for _ in range(3000):
        x, y = rnd.randrange(WIDTH), rnd.randrange(1400, HEIGHT)
        draw.ellipse((x - 1, y - 1, x + 1, y + 1), fill=(252, 236, 120))
    image = decoded(encoded(page))
    candidates = yellow_dot_candidates(image)
    assert len(candidates.dots) > 1000
    assert not dots_form_a_grid(candidates.dots, image.size).found
    report, _ = clean(encoded(page))
    assert MASKED not in report.notes and POSSIBLE in report.notes


def test_page_test_on_its_own() -> None:
    assert looks_like_printed_page(scanned_page(dots=False))
    assert not looks_like_printed_page(Image.effect_noise((400, 300), 80).convert("RGB"))


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "WEBP"])
def test_other_scan_formats_are_masked(fmt: str) -> None:
    page = decoded(encoded(scanned_page()))  # the scan's JPEG blur, stored in another format
    options = {"lossless": True} if fmt == "WEBP" else {}
    report, data = clean(encoded(page, fmt, **options))
    assert MASKED in report.notes and "lossless" not in report.notes
    cleaned = Image.open(io.BytesIO(data))
    assert cleaned.format == fmt
    assert yellow_specks(decoded(data), BLANK_AREA) == 0


def test_a_masked_jpeg_keeps_its_orientation_and_nothing_else() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "PrinterTracker Corp"  # Make: must not survive the re-encode
    report, data = clean(encoded(scanned_page(), exif=exif.tobytes()))
    assert MASKED in report.notes
    kept = Image.open(io.BytesIO(data)).getexif()
    assert dict(kept) == {0x0112: 6}
    assert b"PrinterTracker" not in data


def test_the_notes_are_worded_in_spanish() -> None:
    report, _ = clean(encoded(scanned_page(dots=False)))
    with translation.override("es"):
        lines = describe(report)
    assert any("impresora" in line for line in lines)
