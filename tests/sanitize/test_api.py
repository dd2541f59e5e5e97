"""The contract the pipeline codes against: sniff, Report, describe, and the
all-or-nothing sink."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from django.utils import translation

import tipline.sanitize.png
from tipline.report_text import describe
from tipline.sanitize import Removed, Report, SanitizeStatus, sanitize, sniff
from tipline.sanitize.limits import Damaged

from . import makers, makers_office
from ._support import CORPUS, Sink, Source, clean

SNIFFED = {
    "mat2/dirty.jpg": ("image/jpeg", "image"),
    "mat2/dirty.png": ("image/png", "image"),
    "mat2/dirty.gif": ("image/gif", "image"),
    "mat2/dirty.webp": ("image/webp", "image"),
    "mat2/dirty.tiff": ("image/tiff", "image"),
    "mat2/dirty.bmp": ("image/bmp", "image"),
    "mat2/dirty.heic": ("image/heic", "image"),
    "mat2/dirty.avif": ("image/avif", "image"),
    "mat2/dirty.pdf": ("application/pdf", "pdf"),
    "mat2/dirty.mp4": ("video/mp4", "video"),
    "mat2/dirty.mp3": ("audio/mpeg", "audio"),
    "mat2/dirty.flac": ("audio/flac", "audio"),
    "mat2/dirty.ogg": ("audio/ogg", "audio"),
    "mat2/dirty.wav": ("audio/wav", "audio"),
    "mat2/dirty.odt": ("application/vnd.oasis.opendocument.text", "office"),
    "mat2/dirty.docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "office",
    ),
    "mat2/dirty.txt": ("application/octet-stream", "other"),
}


@pytest.mark.parametrize("name", sorted(SNIFFED))
def test_sniff_by_content_and_position_restored(name: str) -> None:
    source = Source((CORPUS / name).read_bytes())
    source.seek(5)
    kind = sniff(source)
    assert (kind.mime, kind.family) == SNIFFED[name]
    assert source.tell() == 5


def test_sniff_ignores_what_a_file_claims() -> None:
    png = (CORPUS / "mat2/dirty.png").read_bytes()
    assert sniff(io.BytesIO(png)).mime == "image/png"  # no name involved at all
    polyglot = (CORPUS / "mat2/dirty.jpg").read_bytes() + makers_office.docx()
    assert sniff(io.BytesIO(polyglot)).mime == "image/jpeg"


def test_report_round_trips_through_json() -> None:
    report = Report(
        SanitizeStatus.CLEANED,
        "image/jpeg",
        "image",
        ".jpg",
        [Removed("gps"), Removed("comments", 3)],
        ["orientation_kept"],
    )
    data = json.loads(json.dumps(report.to_dict()))
    assert data["status"] == "cleaned"
    assert data["removed"] == [{"what": "gps", "count": 1}, {"what": "comments", "count": 3}]
    assert Report.from_dict(data) == report


def test_describe_reads_like_sentences() -> None:
    report = Report(
        SanitizeStatus.CLEANED,
        "image/jpeg",
        "image",
        ".jpg",
        [
            Removed("gps"),
            Removed("camera"),
            Removed("author"),
            Removed("comments", 3),
            Removed("no-such-code"),
        ],
        ["orientation_kept"],
    )
    with translation.override("en"):
        lines = describe(report)
        damaged = describe(
            Report(SanitizeStatus.DAMAGED, "image/png", "image", ".png", reason="too_many_pixels")
        )
    assert lines[1:5] == ["GPS location", "camera make and model", "author name", "3 comments"]
    assert lines[5] == "other metadata"
    assert "right way up" in lines[-1]
    assert damaged[0] == "Damaged image, stored unchanged and not shown"
    assert damaged[1] == "The image is larger than the size limit."


def test_sink_gets_the_original_when_cleaning_fails_midway(monkeypatch) -> None:
    def half_then_fail(src, dst, ctx):
        dst.write(b"\x89PNG partial output")
        raise Damaged("bad_structure", "failed after writing")

    monkeypatch.setattr(tipline.sanitize.png, "sanitize_png", half_then_fail)
    data = (CORPUS / "mat2/dirty.png").read_bytes()
    report, output = clean(data)
    assert report.status == "damaged" and output == data


def test_programming_errors_propagate(monkeypatch) -> None:
    def buggy(src, dst, ctx):
        raise TypeError("a bug, not a bad file")

    monkeypatch.setattr(tipline.sanitize.png, "sanitize_png", buggy)
    with pytest.raises(TypeError):
        sanitize(Source((CORPUS / "mat2/dirty.png").read_bytes()), Sink())


def test_scratch_objects_are_closed() -> None:
    made: list[io.BytesIO] = []

    def factory() -> io.BytesIO:
        made.append(io.BytesIO())
        return made[-1]

    for name in ("mat2/dirty.mp4", "mat2/dirty.heic", "mat2/dirty.docx", "mat2/dirty.txt"):
        sanitize(Source((CORPUS / name).read_bytes()), Sink(), scratch_factory=factory)
    assert made and all(scratch.closed for scratch in made)


@pytest.mark.parametrize("kind", ["mp4", "heic", "pdf", "docx"])
def test_production_scratch_file(tmp_path: Path, kind: str) -> None:
    """The pipeline's encrypted scratch file works as the muxer's seekable output."""
    from tipline.crypto import EncryptedScratchFile

    data = {
        "mp4": lambda: makers.video(tmp_path, "mp4"),
        "heic": lambda: makers.heic(tmp_path),
        "pdf": lambda: makers.pdf(tmp_path),
        "docx": makers_office.docx,
    }[kind]()
    plain_report, plain = clean(data)
    report, output = clean(data, scratch_factory=EncryptedScratchFile)
    # A cleaned PDF gets a random trailer /ID (test_leak_marks.py): the rest is identical.
    assert report == plain_report and _without_pdf_id(output) == _without_pdf_id(plain)


def _without_pdf_id(data: bytes) -> bytes:
    return re.sub(rb"/ID ?\[ ?<[0-9a-fA-F]*> ?<[0-9a-fA-F]*> ?\]", b"/ID []", data)
