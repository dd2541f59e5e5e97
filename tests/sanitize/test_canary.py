"""Canary files: a unique string in every field the tools can write. After
cleaning, the canary must be nowhere: not in the bytes (UTF-8 or UTF-16), not in
any zlib stream inside, not in any zip member; exiftool must report nothing
beyond the harmless allowlist, and no GPS tag."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import av
import pytest
from PIL import Image, ImageOps

from . import makers, makers_office
from ._support import canary_hits, clean, exiftool, leftovers

Maker = Callable[[Path], bytes]
IMAGES: dict[str, Maker] = {
    "jpeg": makers.jpeg,
    "png": makers.png,
    "gif": makers.gif,
    "webp-lossy": makers.webp,
    "webp-lossless": lambda tmp: makers.webp(tmp, lossless=True),
    "webp-animated": lambda tmp: makers.webp(tmp, animated=True),
    "tiff": makers.tiff,
    "heic": makers.heic,
    "avif": makers.avif,
    "bmp": makers.bmp,
}
MEDIA: dict[str, Maker] = {
    **{
        c: (lambda tmp, c=c: makers.video(tmp, c))
        for c in ("mp4", "mov", "mkv", "webm", "avi", "3gp")
    },
    **{a: (lambda tmp, a=a: makers.audio(tmp, a)) for a in makers.AUDIO},
    "mjpeg-avi": lambda tmp: makers.mjpeg(tmp, "avi"),
    "mjpeg-mov": lambda tmp: makers.mjpeg(tmp, "mov"),
}
DOCUMENTS: dict[str, Maker] = {
    "pdf": makers.pdf,
    "docx": lambda tmp: makers_office.docx(),
    "xlsx": lambda tmp: makers_office.xlsx(),
    "pptx": lambda tmp: makers_office.pptx(),
    "odt": lambda tmp: makers_office.odt(),
}
ALL = {**IMAGES, **MEDIA, **DOCUMENTS}


def _judge(tmp_path: Path, report, output: bytes) -> dict:
    path = tmp_path / f"cleaned{report.extension}"
    path.write_bytes(output)
    return exiftool([path])[str(path)]


@pytest.mark.parametrize("kind", sorted(ALL))
def test_canary_is_gone(tmp_path: Path, kind: str) -> None:
    original = ALL[kind](tmp_path)
    assert canary_hits(original), "the generator did not plant the canary"
    report, output = clean(original)
    assert report.status in ("cleaned", "cleaned_reencoded"), report
    assert canary_hits(output) == []
    tags = _judge(tmp_path, report, output)
    if kind == "aac":  # exiftool 12.57 cannot read raw ADTS: the byte scan above is the judge
        tags.pop("ExifTool:Error", None)
    assert leftovers(tags) == {}
    assert not [k for k in tags if "GPS" in k or "Location" in k]
    assert report.removed, "the report should say what was removed"


@pytest.mark.parametrize("kind", sorted(IMAGES))
def test_canary_images_display_the_same(tmp_path: Path, kind: str) -> None:
    original = IMAGES[kind](tmp_path)
    report, output = clean(original)
    old = ImageOps.exif_transpose(Image.open(io.BytesIO(original)))
    new = ImageOps.exif_transpose(Image.open(io.BytesIO(output)))
    assert new.size == old.size
    if report.status == "cleaned":
        assert new.tobytes() == old.tobytes()


def test_jpeg_keeps_only_orientation(tmp_path: Path) -> None:
    report, output = clean(makers.jpeg(tmp_path, orientation=6))
    exif = Image.open(io.BytesIO(output)).getexif()
    assert dict(exif) == {0x0112: 6}
    assert {
        "gps",
        "camera",
        "author",
        "comments",
        "xmp",
        "iptc",
        "thumbnail",
        "device",
        "trailing_data",
    } <= {r.what for r in report.removed}
    assert "orientation_kept" in report.notes


def test_jpeg_report_is_readable(tmp_path: Path) -> None:
    from django.utils import translation

    from tipline.report_text import describe

    report, _ = clean(makers.jpeg(tmp_path))
    with translation.override("en"):
        lines = describe(report)
    assert lines[0].startswith("Metadata removed")
    assert "GPS location" in lines and "camera make and model" in lines
    assert "2 comments" in lines  # the JPEG comment and the EXIF user comment


@pytest.mark.parametrize("kind", sorted(MEDIA))
def test_media_still_plays(tmp_path: Path, kind: str) -> None:
    original = MEDIA[kind](tmp_path)
    _, output = clean(original)
    with av.open(io.BytesIO(original)) as a, av.open(io.BytesIO(output)) as b:
        kinds = sorted(
            s.type
            for s in a.streams
            if s.type in ("audio", "video")
            and not s.disposition & av.stream.Disposition.attached_pic
        )
        assert sorted(s.type for s in b.streams) == kinds
        assert b.duration == pytest.approx(a.duration, abs=150_000)  # microseconds
        decoded = sum(1 for _ in b.decode(b.streams[0]))
        assert decoded > 0


@pytest.mark.parametrize("container", ["avi", "mov"])
def test_mjpeg_frames_keep_their_pixels(tmp_path: Path, container: str) -> None:
    original = makers.mjpeg(tmp_path, container)
    _, output = clean(original)
    frames = []
    for data in (original, output):
        with av.open(io.BytesIO(data)) as media:
            frames.append([f.to_image().tobytes() for f in media.decode(video=0)])
    assert len(frames[1]) == len(frames[0]) == 5
    assert frames[1] == frames[0]


def test_mov_rotation_is_kept(tmp_path: Path) -> None:
    """A phone video stores "turn me 90°" in the track matrix: it must survive."""
    from ._support import ffmpeg
    from .makers import exiftool_write

    src = tmp_path / "r.mov"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x48:rate=10",
        "-t",
        "0.5",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        str(src),
    )
    exiftool_write(src, "-Rotation=90")
    _, output = clean(src.read_bytes())
    path = tmp_path / "out.mov"
    path.write_bytes(output)
    before, after = exiftool([src])[str(src)], exiftool([path])[str(path)]
    assert before.get("Composite:Rotation") not in (None, 0)
    assert after.get("Composite:Rotation") == before.get("Composite:Rotation")


def test_pdf_keeps_text_drops_history(tmp_path: Path) -> None:
    import pikepdf

    report, output = clean(makers.pdf(tmp_path))
    with pikepdf.open(io.BytesIO(output)) as pdf:
        page = pdf.pages[0]
        assert b"(Hello) Tj" in page.Contents.read_bytes()
        assert "/OpenAction" not in pdf.Root and "/Names" not in pdf.Root.get("/Names", {})
        assert "/T" not in page.Annots[0] and page.Annots[0].Contents == "a note"
        assert len(pdf.attachments) == 0
    assert {"javascript", "embedded_files", "xmp", "author", "private_data"} <= {
        r.what for r in report.removed
    }


def test_docx_text_reads_as_accepted(tmp_path: Path) -> None:
    report, output = clean(makers_office.docx())
    with zipfile.ZipFile(io.BytesIO(output)) as zf:
        body = zf.read("word/document.xml").decode()
        names = zf.namelist()
    assert "Visible text" in body and " kept" in body and " inserted" in body and "cell" in body
    assert "link text" in body  # a link to a local file loses its target, not its text
    assert 'mc:Ignorable="w14"' in body and "xmlns:w14=" in body  # prefixes preserved
    assert "word/media/image1.jpeg" in names and "word/comments.xml" not in names
    assert report.count("revisions") >= 3 and report.count("comments") >= 1
