"""Every file of the shared corpus, cleaned and judged.

- status: cleaned, or an expected, named damaged/not_sanitized with the
  original bytes stored unchanged;
- exiftool (the outside judge) reports nothing beyond a short allowlist of
  harmless format tags;
- the content survives: identical pixels (and orientation) for images, frames
  and durations for GIFs, pages and text for PDFs, body text for office files,
  stream counts and durations for audio/video.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import av
import pikepdf
import pillow_heif
import pytest
from defusedxml import ElementTree
from PIL import Image, ImageOps, ImageSequence

from ._support import CORPUS, corpus_files, leftovers

pillow_heif.register_heif_opener()

NAMES = [str(p.relative_to(CORPUS)) for p in corpus_files()]
UNSUPPORTED = "not_sanitized", "unsupported_type"
EXPECTED_NOT_CLEANED = {
    # Not a format we clean: stored unchanged, flagged.
    "README.md": UNSUPPORTED,
    "exif-samples/README.rst": UNSUPPORTED,
    "exif-samples/jpg/README.txt": UNSUPPORTED,
    "exif-samples/jpg/gps/README": UNSUPPORTED,
    "exif-samples/jpg/invalid/README": UNSUPPORTED,
    "exif-samples/jpg/orientation/README": UNSUPPORTED,
    "exif-samples/tiff/README": UNSUPPORTED,
    "mat2/LICENSE": UNSUPPORTED,
    "mat2/dirty.css": UNSUPPORTED,
    "mat2/dirty.html": UNSUPPORTED,
    "mat2/dirty.txt": UNSUPPORTED,
    "mat2/dirty.torrent": UNSUPPORTED,
    "mat2/dirty.epub": UNSUPPORTED,
    "mat2/dirty.jxl": UNSUPPORTED,  # Pillow 13 cannot read JPEG XL here
    # Genuinely malformed: damaged, stored unchanged and not shown.
    "mat2/weird.svg": ("damaged", "bad_structure"),  # its root is not in SVG's namespace
    "mat2/broken_xml_content_types.docx": ("damaged", "bad_xml"),
    "mat2/malformed_content_types.docx": ("damaged", "bad_structure"),
    "mat2/no_content_types.docx": ("damaged", "bad_structure"),
    "mat2/embedded_corrupted.docx": ("damaged", "bad_xml"),  # document.xml is a torrent
    "mat2/embedded_corrupted.odt": ("damaged", "bad_xml"),  # content.xml is a torrent
}
CLEANED = [n for n in NAMES if n not in EXPECTED_NOT_CLEANED]


def _item(cleaned_corpus, name: str):
    return cleaned_corpus[str(CORPUS / name)]


@pytest.mark.parametrize("name", NAMES)
def test_status(cleaned_corpus, name: str) -> None:
    item = _item(cleaned_corpus, name)
    if name in EXPECTED_NOT_CLEANED:
        assert (item.report.status, item.report.reason) == EXPECTED_NOT_CLEANED[name]
        assert item.output == item.original  # stored unchanged, flagged
    else:
        assert item.report.status in ("cleaned", "cleaned_reencoded"), item.report
        assert item.output != item.original


@pytest.mark.parametrize("name", CLEANED)
def test_nothing_identifying_left(cleaned_corpus, name: str) -> None:
    item = _item(cleaned_corpus, name)
    assert item.tags, "exiftool could not read the cleaned file"
    assert leftovers(item.tags) == {}


def _frames(data: bytes) -> list[Image.Image]:
    im = Image.open(io.BytesIO(data))
    return [ImageOps.exif_transpose(frame.copy()) for frame in ImageSequence.Iterator(im)]


IMAGES = [
    n
    for n in CLEANED
    if _item.__name__
    and Path(n).suffix.lower()
    in (
        ".jpg",
        ".jpeg",
        ".png",
        ".gif",
        ".webp",
        ".tif",
        ".tiff",
        ".bmp",
        ".ppm",
        ".heic",
        ".heif",
        ".avif",
    )
]


@pytest.mark.parametrize("name", IMAGES)
def test_pixels_and_orientation_kept(cleaned_corpus, name: str) -> None:
    """Displayed the right way up (exif_transpose), the pixels are identical."""
    item = _item(cleaned_corpus, name)
    before, after = _frames(item.original), _frames(item.output)
    assert len(after) == len(before)
    for old, new in zip(before, after, strict=True):
        assert new.size == old.size
        assert new.mode == old.mode
        assert new.tobytes() == old.tobytes()
    if item.report.status == "cleaned":
        assert "lossless" in item.report.notes


@pytest.mark.parametrize("name", [n for n in IMAGES if n.endswith(".gif")])
def test_gif_timing_kept(cleaned_corpus, name: str) -> None:
    item = _item(cleaned_corpus, name)
    old, new = Image.open(io.BytesIO(item.original)), Image.open(io.BytesIO(item.output))
    assert new.n_frames == old.n_frames
    assert new.info.get("loop") == old.info.get("loop")
    durations = []
    for im in (old, new):
        durations.append([f.info.get("duration") for f in ImageSequence.Iterator(im)])
    assert durations[0] == durations[1]


def _pdf_text(data: bytes) -> list[list[bytes]]:
    pages = []
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for page in pdf.pages:
            strings = []
            for operands, operator in pikepdf.parse_content_stream(page):
                if str(operator) in ("Tj", "TJ", "'", '"'):
                    for op in operands:
                        items = op if isinstance(op, pikepdf.Array) else [op]
                        strings += [bytes(x) for x in items if isinstance(x, pikepdf.String)]
            pages.append(strings)
    return pages


@pytest.mark.parametrize("name", [n for n in CLEANED if n.endswith(".pdf")])
def test_pdf_pages_and_text_kept(cleaned_corpus, name: str) -> None:
    item = _item(cleaned_corpus, name)
    before, after = _pdf_text(item.original), _pdf_text(item.output)
    assert len(after) == len(before)
    assert after == before
    assert sum(len(p) for p in after) > 0
    with pikepdf.open(io.BytesIO(item.output)) as pdf:
        assert "/Info" not in pdf.trailer
        assert "/Metadata" not in pdf.Root


W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
ODF_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
ODF_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"


def _docx_text(data: bytes) -> list[str]:
    """The text as Word shows it with all changes accepted (written independently
    of the sanitizer: ElementTree, skipping deletions)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        root = ElementTree.fromstring(zf.read("word/document.xml"))
    out: list[str] = []

    def walk(node) -> None:
        if node.tag in (W + "del", W + "moveFrom"):
            return
        if node.tag == W + "tr" and node.find(f"{W}trPr/{W}del") is not None:
            return
        if node.tag == W + "t" and node.text:
            out.append(node.text)
        for child in node:
            walk(child)

    walk(root)
    return out


def _odf_text(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        root = ElementTree.fromstring(zf.read("content.xml"))
    out: list[str] = []

    def walk(node) -> None:
        if node.tag in (ODF_TEXT + "tracked-changes", ODF_OFFICE + "annotation"):
            if node.tail and node.tail.strip():
                out.append(node.tail)
            return
        if node.text and node.text.strip():
            out.append(node.text)
        for child in node:
            walk(child)
        if node.tail and node.tail.strip():
            out.append(node.tail)

    walk(root)
    return out


OFFICE = [n for n in CLEANED if Path(n).suffix in (".docx", ".xlsx", ".odt", ".odg", ".odf")]


@pytest.mark.parametrize("name", OFFICE)
def test_office_text_kept(cleaned_corpus, name: str) -> None:
    item = _item(cleaned_corpus, name)
    with zipfile.ZipFile(io.BytesIO(item.output)) as zf:
        names = zf.namelist()
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in zf.infolist())
        assert not any(n.startswith(("docProps/", "customXml/", "Thumbnails/")) for n in names)
        assert "meta.xml" not in names and "settings.xml" not in names
    if name.endswith(".docx"):
        text = _docx_text(item.output)
        assert text == _docx_text(item.original)
        with zipfile.ZipFile(io.BytesIO(item.output)) as zf:
            body = zf.read("word/document.xml")
        assert b"w:rsid" not in body and b"<w:del " not in body and b"<w:ins " not in body
    elif name.endswith(".xlsx"):
        with (
            zipfile.ZipFile(io.BytesIO(item.original)) as a,
            zipfile.ZipFile(io.BytesIO(item.output)) as b,
        ):
            assert ElementTree.fromstring(b.read("xl/worksheets/sheet1.xml")) is not None
            assert set(a.namelist()) >= set(b.namelist())
    else:
        assert _odf_text(item.output) == _odf_text(item.original)
        with zipfile.ZipFile(io.BytesIO(item.output)) as zf:
            first = zf.infolist()[0]
            assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED


def _media(data: bytes) -> tuple[dict[str, int], dict[str, float], float]:
    counts: dict[str, int] = {}
    durations: dict[str, float] = {}
    with av.open(io.BytesIO(data)) as container:
        for stream in container.streams:
            if stream.type not in ("audio", "video"):
                continue
            if stream.disposition & av.stream.Disposition.attached_pic:
                continue
            counts[stream.type] = counts.get(stream.type, 0) + 1
            last = 0.0
            for packet in container.demux(stream):
                if packet.pts is not None and packet.duration is not None:
                    last = max(last, float((packet.pts + packet.duration) * packet.time_base))
            container.seek(0)
            durations[stream.type] = max(durations.get(stream.type, 0.0), last)
        frame = 1 / 24
        for stream in container.streams.video:
            if stream.average_rate:
                frame = float(1 / stream.average_rate)
    return counts, durations, frame


MEDIA = [
    n
    for n in CLEANED
    if Path(n).suffix in (".mp4", ".mp3", ".ogg", ".flac", ".wav", ".avi", ".wmv", ".aiff")
]


@pytest.mark.parametrize("name", MEDIA)
def test_media_streams_and_duration_kept(cleaned_corpus, name: str) -> None:
    item = _item(cleaned_corpus, name)
    counts_before, before, frame = _media(item.original)
    counts_after, after, _ = _media(item.output)
    assert counts_after == counts_before
    for kind, seconds in before.items():
        assert after[kind] == pytest.approx(seconds, abs=max(frame, 0.03))
    with av.open(io.BytesIO(item.output)) as container:
        assert not {k.lower() for k in container.metadata} - {
            "major_brand",
            "minor_version",
            "compatible_brands",
            "encoder",
        }
        assert "encoder" not in container.metadata or container.metadata["encoder"] in ("Lavf", "")
