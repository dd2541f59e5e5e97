"""Hostile files: each ends as that file's clear status, quickly, with the
original bytes stored, and never as an exception in the caller."""

from __future__ import annotations

import io
import random
import struct
import time
import zipfile
import zlib
from pathlib import Path

import pikepdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tipline.sanitize import Limits

from . import makers, makers_office
from ._support import CANARY, CORPUS, canary_hits, clean, ffmpeg

JPEG = (CORPUS / "exif-samples/jpg/gps/DSCN0010.jpg").read_bytes()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _assert_stored(data: bytes, status: str, reason: str, **kwargs) -> None:
    start = time.monotonic()
    report, output = clean(data, **kwargs)
    assert (report.status, report.reason) == (status, reason), report
    assert output == data  # stored unchanged (and flagged)
    assert time.monotonic() - start < 10


def test_png_decompression_bomb() -> None:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + _png_chunk(b"IEND", b"")
    )
    assert len(bomb) < 200
    _assert_stored(bomb, "damaged", "too_many_pixels")


def test_jpeg_with_huge_frame() -> None:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 65000, 65000, 1) + b"\x01\x11\x00"
    _assert_stored(
        b"\xff\xd8"
        + sof
        + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
        + b"\x00" * 100
        + b"\xff\xd9",
        "damaged",
        "too_many_pixels",
    )


def _bmp_header(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + 64, 0, 0, 54) + info + b"\x00" * 64


def test_pillow_bomb_warning_is_an_error() -> None:
    """100 MP passes our cap when it is raised, but trips Pillow's bomb warning."""
    _assert_stored(
        _bmp_header(10_000, 10_000), "damaged", "too_many_pixels", limits=Limits(max_pixels=10**12)
    )


def test_tiff_bomb() -> None:
    entries = [
        (256, 4, 60000),
        (257, 4, 60000),
        (258, 3, 8),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, 8),
        (278, 4, 60000),
        (279, 4, 16),
    ]
    ifd = (
        struct.pack("<H", len(entries))
        + b"".join(struct.pack("<HHII", tag, kind, 1, value) for tag, kind, value in entries)
        + bytes(4)
    )
    data = b"II*\x00" + struct.pack("<I", 24) + bytes(16) + ifd
    _assert_stored(data, "damaged", "too_many_pixels")


def test_pixel_limit_is_configurable() -> None:
    _assert_stored(JPEG, "damaged", "too_many_pixels", limits=Limits(max_pixels=1000))


def test_truncated_jpeg() -> None:
    _assert_stored(JPEG[: len(JPEG) // 2], "damaged", "truncated")


def test_random_bytes_with_jpeg_magic() -> None:
    data = b"\xff\xd8\xff" + random.Random(7).randbytes(20_000)
    report, output = clean(data)
    assert report.status == "damaged" and report.reason in ("bad_structure", "truncated")
    assert output == data


def test_zip_bomb_docx() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", b" " * (50 << 20))
    assert len(buf.getvalue()) < 200_000
    _assert_stored(buf.getvalue(), "damaged", "zip_bomb")


def test_zip_with_too_many_members() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("word/document.xml", "<x/>")
        for i in range(6000):
            zf.writestr(f"word/media/{i}.bin", b"")
    _assert_stored(buf.getvalue(), "damaged", "zip_bomb")


def test_zip_directory_bomb_is_refused_before_parsing() -> None:
    """A central directory claiming 60 000 entries: refused from the end record alone."""
    name = b"word/document.xml"
    local = b"PK\x03\x04" + bytes(22) + struct.pack("<HH", len(name), 0) + name
    eocd = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 60_000, 60_000, 46 * 60_000, 0, 0)
    _assert_stored(local + eocd, "damaged", "zip_bomb")


def _docx_with_body(body: str) -> bytes:
    data = makers_office.docx()
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for info in src.infolist():
            content = body.encode() if info.filename == "word/document.xml" else src.read(info)
            zf.writestr(info.filename, content)
    return out.getvalue()


def test_docx_with_a_picture_that_cannot_be_cleaned() -> None:
    """The picture goes, with its relationship and the element using it; the text stays."""
    src = zipfile.ZipFile(io.BytesIO(makers_office.docx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for info in src.infolist():
            broken = b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00" + CANARY.encode() + b"..."
            zf.writestr(
                info.filename, broken if info.filename.endswith("image1.jpeg") else src.read(info)
            )
    report, output = clean(out.getvalue())
    assert report.status == "cleaned" and "embedded_dropped" in report.notes
    with zipfile.ZipFile(io.BytesIO(output)) as zf:
        assert "word/media/image1.jpeg" not in zf.namelist()
        assert b"image1.jpeg" not in zf.read("word/_rels/document.xml.rels")
        body = zf.read("word/document.xml")
    assert b"rIdImg" not in body and b"Visible text" in body
    assert canary_hits(output) == []


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ).replace("&lol0;", "&lol;")
    + ']><w:document xmlns:w="http://schemas.openxmlformats.org/'
    'wordprocessingml/2006/main">&lol9;</w:document>'
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "&x;</w:document>"
)


@pytest.mark.parametrize("body", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_xml_attacks_in_docx(body: str) -> None:
    _assert_stored(_docx_with_body(body), "damaged", "xml_attack")


def test_thousand_streams(tmp_path: Path) -> None:
    out = tmp_path / "many.mkv"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "anullsrc=r=8000:cl=mono",
        "-t",
        "0.05",
        *(["-map", "0:a"] * 1000),
        "-c:a",
        "pcm_s16le",
        str(out),
    )
    _assert_stored(out.read_bytes(), "damaged", "too_many_streams")


def _zip_with_canary() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("secret.txt", f"{CANARY} hidden in a polyglot")
    return buf.getvalue()


@pytest.mark.parametrize(
    "carrier",
    ["mat2/dirty.jpg", "mat2/dirty.png", "mat2/dirty.gif", "mat2/dirty.pdf", "mat2/dirty.webp"],
)
def test_polyglot_with_zip_is_cleaned_as_its_first_type(carrier: str) -> None:
    original = (CORPUS / carrier).read_bytes()
    report, output = clean(original + _zip_with_canary())
    assert report.mime != "application/zip"
    assert report.status == "cleaned"
    assert b"PK\x03\x04" not in output and canary_hits(output) == []
    if report.family == "image":
        assert "trailing_data" in {r.what for r in report.removed}


def test_frame_limit(tmp_path: Path) -> None:
    _assert_stored(makers.gif(tmp_path), "damaged", "too_many_frames", limits=Limits(max_frames=2))


def test_time_limit(tmp_path: Path) -> None:
    data = makers.video(tmp_path, "mkv")
    _assert_stored(data, "damaged", "too_slow", limits=Limits(max_seconds=0))


def test_encrypted_pdf_is_not_sanitized() -> None:
    buf = io.BytesIO()
    with pikepdf.open(io.BytesIO((CORPUS / "mat2/dirty.pdf").read_bytes())) as pdf:
        pdf.save(buf, encryption=pikepdf.Encryption(owner="o", user="u"))
    _assert_stored(buf.getvalue(), "not_sanitized", "encrypted")


@pytest.mark.parametrize(
    "head",
    [
        b"%PDF-1.7\n",
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00",
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00",
        b"GIF89a",
        b"\x89PNG\r\n\x1a\n",
        b"RIFF\x00\x01\x00\x00WEBP",
        b"fLaC",
        b"OggS\x00\x02" + bytes(20),
        b"PK\x03\x04",
        b"II*\x00",
        b"\x1aE\xdf\xa3",
    ],
)
def test_magic_followed_by_garbage(head: bytes) -> None:
    data = head + random.Random(head).randbytes(5000)
    report, output = clean(data)
    assert report.status in ("damaged", "not_sanitized")
    assert output == data


SEEDS = {
    "jpg": JPEG[:20_000] + JPEG[-2000:],
    "png": (CORPUS / "mat2/dirty.png").read_bytes()[:30_000],
    "gif": (CORPUS / "mat2/dirty.gif").read_bytes(),
    "webp": (CORPUS / "mat2/dirty.webp").read_bytes(),
    "heic": (CORPUS / "exif-samples/heic/samplefilehub.heif").read_bytes(),
    "tiff": (CORPUS / "exif-samples/tiff/Arbitro.tiff").read_bytes(),
    "docx": (CORPUS / "mat2/revision.docx").read_bytes(),
    "odt": (CORPUS / "mat2/revision.odt").read_bytes(),
    "mp3": (CORPUS / "mat2/dirty.mp3").read_bytes(),
    "pdf": (CORPUS / "mat2/dirty.pdf").read_bytes()[:60_000],
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(SEEDS)), data=st.data())
def test_mutated_files_never_raise(kind: str, data: st.DataObject) -> None:
    """Flipped bytes and truncations: a status, never an exception."""
    seed = bytearray(SEEDS[kind])
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(seed) - 1))
        seed[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(seed) // 2, len(seed)))
    mutated = bytes(seed[:cut])
    report, output = clean(mutated)
    if report.status in ("damaged", "not_sanitized"):
        assert output == mutated
    else:
        assert output


def test_pdf_image_with_a_hostile_decode_parms_is_damaged_not_a_crash() -> None:
    """A JPEG image whose /DecodeParms is a number: pikepdf's write() would raise a
    TypeError that escaped cleaning and failed the worker's task, leaving the
    file waiting for ever. It is a malformed file: damaged, original kept."""
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(200, 200))
    image = pikepdf.Stream(pdf, JPEG)
    image["/Type"] = pikepdf.Name.XObject
    image["/Subtype"] = pikepdf.Name.Image
    image["/Width"], image["/Height"] = 640, 480
    image["/ColorSpace"] = pikepdf.Name.DeviceRGB
    image["/BitsPerComponent"] = 8
    image["/Filter"] = pikepdf.Name.DCTDecode
    image["/DecodeParms"] = 7
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.Contents = pdf.make_stream(b"q 200 0 0 200 0 0 cm /Im0 Do Q")
    buf = io.BytesIO()
    pdf.save(buf)
    report, out = clean(buf.getvalue())
    assert report.status == "damaged"
    assert out == buf.getvalue()
