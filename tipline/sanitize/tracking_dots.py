"""Printer tracking dots: find the yellow dot grid in a scan of a printed page, and mask it.

Many colour laser printers print a faint grid of yellow dots (about 0.1 mm,
repeated every 1-2 mm over the whole page) that encodes the printer's serial
number and the time of printing. A scan or photo of a printed page carries them;
a published scan has led to a source's arrest. The ``deda`` toolkit reads the
known patterns but is GPL-3.0-or-later, so this is our own, simpler detector
(docs/sanitize.md, "Leak marks"):

1. ``looks_like_printed_page``: most of a downscaled copy is light, neutral paper.
2. ``yellow_dot_candidates``: small isolated specks where blue is markedly lower
   than red and green, on a light background. Areas of yellow (a highlighter
   stroke, a logo, a photo) are excluded block by block before anything is
   counted, so they are never taken for dots and never masked.
3. ``dots_form_a_grid``: enough specks, spread over the page, whose offsets to
   their neighbours fall on a regular lattice in both directions.
4. ``mask_tracking_dots``: every speck (and a one-pixel fringe) is replaced by
   the paper half a grid step away (a background without dots, with the scan's
   own noise), or the paper's colour where that is not plain paper.

Everything runs as Pillow operations in C over the whole image; plain Python
only walks the few candidate pixels (numpy is not a dependency).

``lossless_or_masked`` wires this into the lossless cleaners (JPEG, PNG, WebP):
the file is cleaned losslessly as before; only when the cleaned picture holds
a dot grid is it re-encoded, with the dots masked.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections import Counter
from collections.abc import Callable
from typing import Any, BinaryIO

from PIL import Image, ImageChops

from .common import Context, copy_stream
from .report import Report, SanitizeStatus

MASKED = "tracking_dots_masked"
POSSIBLE = "tracking_dots_possible"

PAGE_SAMPLE = 256  # the page test looks at a copy this size on its longer side
PAPER_LIGHT = 170  # a paper pixel: every channel at least this light ...
PAPER_NEUTRAL = 40  # ... and channels within this of each other
PAGE_SHARE = 0.55  # share of paper pixels for "a printed page"

DETECT_MAX_PIXELS = 40_000_000  # beyond this detection does not run (600 dpi A4: 35 MP)
DETECT_MIN_SIDE = 1000  # below this, 0.1 mm dots are not resolved on a whole page
# Yellowness is min(R, G) - B above the paper's own (recycled paper is yellowish).
YELLOW_STRONG = 16  # a dot pixel, for detection
YELLOW_MASK = 8  # a dot pixel, for masking once a grid is found (faint dots too)
YELLOW_FAINT = 2  # the fringe masked around a dot (paper noise is neutral)
YELLOW_PLAIN = 6  # paper taken from beside a dot may be this yellow (JPEG's colour noise)
UNTOUCHED = 200  # pixels darker than this (min(R, G)) are never masked: text, lines
LIGHT = 150  # min(R, G) of a light pixel (yellow dots are light)
BLOCK = 16  # isolation block (pixels); a dot covers a small part of one
AREA_SHARE = 0.30  # yellow share that makes a block part of a yellow area
BACKGROUND_SHARE = 0.60  # share of paper-like pixels for a block's background
FINE = 2  # dot positions are read at this reduction
NEIGHBOUR_RADIUS = 64  # offsets to neighbours within this many pixels are compared
MIN_DOTS = 60
MIN_REGIONS = 8  # of a 4 x 4 division of the page
MIN_GAPS = 20
ON_GRID = 0.70  # share of neighbour offsets on the lattice, in each direction
SAMPLE_DOTS = 3000
MAX_CANDIDATE_CELLS = 400_000  # more yellow specks than this is not a dot grid (or a hostile file)
NON_ZERO = re.compile(rb"[^\x00]")


@dataclasses.dataclass
class Candidates:
    """Speck pixels of a picture: the mask of isolated yellow specks and their centres."""

    specks: Image.Image  # "L", full size, 255 on the cells where specks were found
    dots: list[tuple[float, float]]


@dataclasses.dataclass
class Grid:
    found: bool
    pitch: tuple[float, float] = (0.0, 0.0)  # lattice step in x and y, pixels


def looks_like_printed_page(image: Image.Image) -> bool:
    """Whether most of the picture is light, neutral paper (a scan or photo of a page)."""
    return _paper_share(image) >= PAGE_SHARE


def _paper_share(image: Image.Image) -> float:
    sample = image.copy()
    sample.thumbnail((PAGE_SAMPLE, PAGE_SAMPLE), Image.Resampling.BOX)
    rgb = sample.convert("RGB")
    red, green, blue = rgb.split()
    lightest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    darkest = ImageChops.darker(ImageChops.darker(red, green), blue)
    light = darkest.point(_threshold(PAPER_LIGHT))
    neutral = ImageChops.subtract(lightest, darkest).point(_below(PAPER_NEUTRAL))
    paper = ImageChops.multiply(light, neutral).histogram()
    return paper[255] / max(1, rgb.width * rgb.height)


def _threshold(level: int) -> Callable[[int], int]:
    return lambda value: 255 if value >= level else 0


def _below(level: int) -> Callable[[int], int]:
    return lambda value: 255 if value < level else 0


def _yellow_planes(image: Image.Image) -> tuple[Image.Image, Image.Image, Image.Image]:
    """(yellowness = min(R, G) - B, min(R, G), neutral mask) of an RGB picture."""
    red, green, blue = image.split()[:3]
    red_green = ImageChops.darker(red, green)
    yellowness = ImageChops.subtract(red_green, blue)
    lightest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    darkest = ImageChops.darker(red_green, blue)
    neutral = ImageChops.subtract(lightest, darkest).point(_below(PAPER_NEUTRAL))
    return yellowness, red_green, neutral


def yellow_dot_candidates(
    image: Image.Image,
    level: int = YELLOW_STRONG,
    paper_yellowness: int = 0,
    *,
    centres: bool = True,
) -> Candidates:
    """Isolated small yellow specks on a light background, and their centres.

    A block of ``BLOCK`` pixels is a speck block when it holds some strong
    yellow, is not part of a yellow area (its yellow share, or a neighbour's,
    is under ``AREA_SHARE``) and its background is mostly light paper.
    """
    yellowness, red_green, neutral = _yellow_planes(image)
    light = red_green.point(_threshold(LIGHT))
    strong = ImageChops.multiply(yellowness.point(_threshold(level + paper_yellowness)), light)
    share = _reduce(strong, BLOCK)
    area = share.point(_threshold(round(255 * AREA_SHARE)))
    area = _dilate(area)
    paper_like = ImageChops.lighter(ImageChops.multiply(light, neutral), strong)
    background = _reduce(paper_like, BLOCK).point(_threshold(round(255 * BACKGROUND_SHARE)))
    some_yellow = share.point(_threshold(1))
    cells = ImageChops.multiply(ImageChops.subtract(some_yellow, area), background)
    # A dot on a block's edge spills its faint fringe into the next block: take those too.
    cells = ImageChops.multiply(ImageChops.subtract(_dilate(cells), area), background)
    specks = _expand(cells, BLOCK, image.size)
    dots = _centres(ImageChops.multiply(strong, specks)) if centres else []
    return Candidates(specks=specks, dots=dots)


def _reduce(mask: Image.Image, factor: int) -> Image.Image:
    """The mean of each ``factor`` x ``factor`` block (partial edge blocks included)."""
    return mask.reduce(factor)


def _expand(cells: Image.Image, factor: int, size: tuple[int, int]) -> Image.Image:
    big = cells.resize((cells.width * factor, cells.height * factor), Image.Resampling.NEAREST)
    return big.crop((0, 0, *size))


def _dilate(mask: Image.Image) -> Image.Image:
    """Grow a mask by one pixel in each direction (offset copies; cheap at full size)."""
    grown = mask
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1), (1, -1), (-1, 1)):
        grown = ImageChops.lighter(grown, _shift(mask, dx, dy))
    return grown


def _shift(mask: Image.Image, dx: int, dy: int) -> Image.Image:
    """``mask`` moved by (dx, dy), filled with 0 (ImageChops.offset would wrap around)."""
    moved = Image.new(mask.mode, mask.size, 0)
    moved.paste(mask, (dx, dy))
    return moved


def _centres(strong_specks: Image.Image) -> list[tuple[float, float]]:
    """Centres of the yellow specks, from a 2x reduction walked in plain Python.

    Only non-zero cells are visited (a regular expression over the bytes finds
    them in C), and neighbouring cells are joined into one speck.
    """
    fine = _reduce(strong_specks, FINE)
    width = fine.width
    data = fine.tobytes()
    owner: dict[tuple[int, int], int] = {}
    sums: list[list[float]] = []  # per speck: weight, weighted x, weighted y
    for count, match in enumerate(NON_ZERO.finditer(data)):
        if count > MAX_CANDIDATE_CELLS:
            return []
        y, x = divmod(match.start(), width)
        weight = data[match.start()]
        speck = next(
            (
                owner[key]
                for key in ((x - 1, y), (x - 1, y - 1), (x, y - 1), (x + 1, y - 1))
                if key in owner
            ),
            None,
        )
        if speck is None:
            speck = len(sums)
            sums.append([0.0, 0.0, 0.0])
        owner[(x, y)] = speck
        total = sums[speck]
        total[0] += weight
        total[1] += weight * x
        total[2] += weight * y
    half = (FINE - 1) / 2
    return [(sx / w * FINE + half, sy / w * FINE + half) for w, sx, sy in sums]


def dots_form_a_grid(dots: list[tuple[float, float]], size: tuple[int, int]) -> Grid:
    """Whether the specks are many, spread over the page, and on a regular lattice.

    For a sample of specks, the offsets to every neighbour within
    ``NEIGHBOUR_RADIUS`` are collected. The lattice step in x is the commonest
    gap to the nearest speck on the same row (likewise in y); the specks form a
    grid when most offsets are whole multiples of both steps. Random specks
    (dust, noise, paper fibres) pass this with a chance of about a third in
    each direction; a printed grid, even a sparse one, with nearly all.
    """
    if len(dots) < MIN_DOTS or _regions(dots, size) < MIN_REGIONS:
        return Grid(False)
    offsets = _neighbour_offsets(dots)
    pitch_x = _pitch([(dx, dy) for dx, dy in offsets])
    pitch_y = _pitch([(dy, dx) for dx, dy in offsets])
    if pitch_x is None or pitch_y is None:
        return Grid(False)
    on_x = _on_lattice([dx for dx, _ in offsets], pitch_x)
    on_y = _on_lattice([dy for _, dy in offsets], pitch_y)
    return Grid(on_x >= ON_GRID and on_y >= ON_GRID, (pitch_x, pitch_y))


def _regions(dots: list[tuple[float, float]], size: tuple[int, int]) -> int:
    width, height = size
    return len({(int(4 * x / width), int(4 * y / height)) for x, y in dots})


def _neighbour_offsets(dots: list[tuple[float, float]]) -> list[tuple[float, float]]:
    buckets: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for x, y in dots:
        buckets.setdefault((int(x // NEIGHBOUR_RADIUS), int(y // NEIGHBOUR_RADIUS)), []).append(
            (x, y)
        )
    step = max(1, len(dots) // SAMPLE_DOTS)
    offsets: list[tuple[float, float]] = []
    limit = NEIGHBOUR_RADIUS**2
    for x, y in dots[::step]:
        bx, by = int(x // NEIGHBOUR_RADIUS), int(y // NEIGHBOUR_RADIUS)
        for nx in (bx - 1, bx, bx + 1):
            for ny in (by - 1, by, by + 1):
                for ox, oy in buckets.get((nx, ny), ()):
                    dx, dy = ox - x, oy - y
                    if 0 < dx * dx + dy * dy <= limit:
                        offsets.append((dx, dy))
    return offsets


def _pitch(offsets: list[tuple[float, float]]) -> float | None:
    """The commonest gap to the nearest speck along the first axis, on the same line."""
    gaps = Counter(round(along) for along, across in offsets if along >= 2 and abs(across) <= 1.5)
    if sum(gaps.values()) < MIN_GAPS:
        return None
    smoothed = {gap: gaps[gap - 1] + gaps[gap] + gaps[gap + 1] for gap in gaps}
    strongest = max(smoothed.values())
    # The smallest strong gap: in a sparse lattice, larger gaps are its multiples.
    first = min(gap for gap, count in smoothed.items() if count >= strongest / 2)
    peak = max((first, first + 1, first + 2), key=lambda gap: gaps[gap])
    spread = max(1, round(0.1 * peak))  # centres are read at a 2x reduction: +-1 pixel
    window = [gap for gap in range(peak - spread, peak + spread + 1) for _ in range(gaps[gap])]
    return sum(window) / len(window) if peak >= 3 else None


def _on_lattice(values: list[float], pitch: float) -> float:
    tolerance = max(1.0, 0.12 * pitch)
    near = sum(1 for v in values if abs(v - pitch * round(v / pitch)) <= tolerance)
    return near / max(1, len(values))


def paper_colour(image: Image.Image) -> tuple[int, int, int]:
    """The median colour of the light, neutral pixels of a downscaled copy."""
    sample = image.convert("RGB")
    sample.thumbnail((PAGE_SAMPLE, PAGE_SAMPLE), Image.Resampling.BOX)
    pixels: list[tuple[int, int, int]] = [
        (p[0], p[1], p[2])
        for p in sample.get_flattened_data()
        if isinstance(p, tuple) and min(p) >= PAPER_LIGHT and max(p) - min(p) < PAPER_NEUTRAL
    ]
    if not pixels:
        return (255, 255, 255)
    middle = len(pixels) // 2
    red, green, blue = (sorted(channel)[middle] for channel in zip(*pixels, strict=True))
    return (red, green, blue)


def mask_tracking_dots(
    image: Image.Image, grid: Grid, paper: tuple[int, int, int] | None = None
) -> Image.Image:
    """A copy of ``image`` with every yellow speck (and its fringe) replaced by paper.

    Only pixels that are yellow, light and inside a speck block change: text,
    pictures and yellow areas (highlighter, logos) are kept. The replacement is
    the pixel half a grid step away (plain paper between the dots, with the
    scan's own noise, so no flat patches mark where dots were), or the paper's
    colour where that pixel is not plain paper.
    """
    paper = paper or paper_colour(image)
    base = _yellowness(paper)
    candidates = yellow_dot_candidates(image, YELLOW_MASK, base, centres=False)
    yellowness, red_green, _ = _yellow_planes(image)
    faint = ImageChops.multiply(
        yellowness.point(_threshold(base + YELLOW_FAINT)), red_green.point(_threshold(LIGHT))
    )
    dots = _dilate(ImageChops.multiply(faint, candidates.specks))
    dots = ImageChops.multiply(dots, red_green.point(_threshold(UNTOUCHED)))
    dx, dy = (max(1, round(p / 2)) for p in grid.pitch)
    beside = ImageChops.offset(image, dx, dy)
    beside_yellow, beside_light, beside_neutral = _yellow_planes(beside)
    plain = ImageChops.multiply(
        ImageChops.multiply(beside_light.point(_threshold(UNTOUCHED)), beside_neutral),
        beside_yellow.point(_below(base + YELLOW_PLAIN)),
    )
    masked = image.copy()
    masked.paste(Image.new(image.mode, image.size, _fill(image, paper)), mask=dots)
    masked.paste(beside, mask=ImageChops.multiply(dots, plain))
    return masked


def _yellowness(colour: tuple[int, int, int]) -> int:
    red, green, blue = colour
    return max(0, min(red, green) - blue)


def _fill(image: Image.Image, colour: tuple[int, int, int]) -> Any:
    return (*colour, 255) if image.mode == "RGBA" else colour


@dataclasses.dataclass
class Inspection:
    page: bool  # looks like a printed page
    masked: Image.Image | None = None  # the picture with its dots masked, if a grid was found


def inspect(image: Image.Image) -> Inspection:
    """Decide whether ``image`` is a printed page and mask a dot grid if one is found.

    Detection runs only on pages (so ordinary photos cost a downscaled copy),
    in RGB or RGBA, large enough to resolve 0.1 mm dots and under
    ``DETECT_MAX_PIXELS``.
    """
    if not looks_like_printed_page(image):
        return Inspection(page=False)
    if (
        image.mode not in ("RGB", "RGBA")
        or min(image.size) < DETECT_MIN_SIDE
        or image.width * image.height > DETECT_MAX_PIXELS
    ):
        return Inspection(page=True)
    paper = paper_colour(image)
    candidates = yellow_dot_candidates(image, paper_yellowness=_yellowness(paper))
    grid = dots_form_a_grid(candidates.dots, image.size)
    if not grid.found:
        return Inspection(page=True)
    return Inspection(page=True, masked=mask_tracking_dots(image, grid, paper))


def note(report: Report, inspection: Inspection) -> None:
    """Say in the report what was found: dots masked, or a page that may hide them."""
    if inspection.masked is not None:
        report.note(MASKED)
        _reencoded(report)
    elif inspection.page:
        report.note(POSSIBLE)


def _reencoded(report: Report) -> None:
    if "lossless" in report.notes:
        report.notes.remove("lossless")
    report.status = SanitizeStatus.CLEANED_REENCODED
    report.note("reencoded")


# --- lossless formats --------------------------------------------------------------------------

Clean = Callable[[BinaryIO, BinaryIO, Context], Report]
SAVE_OPTIONS: dict[str, dict[str, Any]] = {
    "JPEG": {"quality": 93},
    "PNG": {},
    "WEBP": {"quality": 92},
}


def lossless_or_masked(
    src: BinaryIO, dst: BinaryIO, ctx: Context, clean: Clean, pil_format: str
) -> Report:
    """Clean with ``clean`` (lossless); re-encode with the dots masked if the page has them.

    The check decodes the *cleaned* file (already stripped and validated by the
    lossless walker), into a scratch object. Most pictures are not pages: a
    downscaled decode (JPEG draft mode) decides that, and the cleaned bytes are
    copied out unchanged. Pictures inside documents (``ctx.depth > 0``) and
    animations are not checked.
    """
    if ctx.depth > 0:
        return clean(src, dst, ctx)
    scratch = ctx.scratch_factory()
    try:
        report = clean(src, scratch, ctx)
        scratch.seek(0)
        inspection, options = _inspect_cleaned(scratch, pil_format)
        note(report, inspection)
        if inspection.masked is None:
            scratch.seek(0)
            copy_stream(scratch, dst)
        else:
            inspection.masked.save(dst, format=pil_format, **options, **SAVE_OPTIONS[pil_format])
    finally:
        scratch.close()
    return report


def _inspect_cleaned(cleaned: BinaryIO, pil_format: str) -> tuple[Inspection, dict[str, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(cleaned, formats=[pil_format])
            if getattr(image, "n_frames", 1) > 1:  # animations are not pages
                return Inspection(page=False), {}
            options = _kept_metadata(image)
            too_big = image.width * image.height > DETECT_MAX_PIXELS
            if image.format == "JPEG":  # the page test on a 1/8-scale decode first
                image.draft("RGB", (image.width // 8, image.height // 8))
                if not looks_like_printed_page(image):
                    return Inspection(page=False), {}
                if too_big:
                    return Inspection(page=True), {}
                cleaned.seek(0)
                image = Image.open(cleaned, formats=[pil_format])
            elif too_big:  # no cheap way to look at it
                return Inspection(page=False), {}
            image.load()
            fresh = image.copy()
            fresh.info = {}
            return inspect(fresh), options
        except (
            OSError,
            ValueError,
            SyntaxError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
        ):
            # The lossless copy stands; a picture Pillow cannot decode is not judged.
            return Inspection(page=False), {}
        except MemoryError:  # too big to check here: say that dots may be there
            return Inspection(page=True), {}


def _kept_metadata(image: Image.Image) -> dict[str, Any]:
    """What our cleaner kept and a re-encode must keep: a standard profile, the orientation."""
    options: dict[str, Any] = {}
    if image.info.get("icc_profile"):
        options["icc_profile"] = image.info["icc_profile"]
    if image.info.get("exif"):
        options["exif"] = image.info["exif"]
    return options
