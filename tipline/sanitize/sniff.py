"""Identify a file by its content (magic bytes), never by its name or browser type.

Polyglots: a file is what its first bytes say it is. A JPEG with a zip appended
is a JPEG (the JPEG cleaner then drops everything after the end-of-image
marker); a PDF can start up to 1 KiB in, as readers accept, but only when no
other type matched at offset 0.
"""

from __future__ import annotations

import dataclasses
import io
import re
import struct
import zipfile
from typing import BinaryIO

HEAD = 4096


@dataclasses.dataclass(frozen=True)
class FileKind:
    mime: str
    family: str  # image, pdf, office, video, audio, other
    extension: str


OCTET = FileKind("application/octet-stream", "other", "")

ODF = {
    b"application/vnd.oasis.opendocument.text": FileKind(
        "application/vnd.oasis.opendocument.text", "office", ".odt"
    ),
    b"application/vnd.oasis.opendocument.spreadsheet": FileKind(
        "application/vnd.oasis.opendocument.spreadsheet", "office", ".ods"
    ),
    b"application/vnd.oasis.opendocument.presentation": FileKind(
        "application/vnd.oasis.opendocument.presentation", "office", ".odp"
    ),
    b"application/vnd.oasis.opendocument.graphics": FileKind(
        "application/vnd.oasis.opendocument.graphics", "office", ".odg"
    ),
    b"application/vnd.oasis.opendocument.formula": FileKind(
        "application/vnd.oasis.opendocument.formula", "office", ".odf"
    ),
    b"application/epub+zip": FileKind("application/epub+zip", "other", ".epub"),
}
OOXML_MAIN = {
    "word/document.xml": FileKind(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "office", ".docx"
    ),
    "xl/workbook.xml": FileKind(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "office", ".xlsx"
    ),
    "ppt/presentation.xml": FileKind(
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "office",
        ".pptx",
    ),
}
ZIP = FileKind("application/zip", "other", ".zip")
MAX_SNIFF_ENTRIES = 50_000

HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
AVIF_BRANDS = {b"avif", b"avis"}
MP4_BRANDS = {
    b"M4A ": FileKind("audio/mp4", "audio", ".m4a"),
    b"M4B ": FileKind("audio/mp4", "audio", ".m4a"),
    b"M4V ": FileKind("video/mp4", "video", ".mp4"),
    b"qt  ": FileKind("video/quicktime", "video", ".mov"),
}
MP4 = FileKind("video/mp4", "video", ".mp4")
QT_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}

SIMPLE: list[tuple[bytes, FileKind]] = [
    (b"\xff\xd8\xff", FileKind("image/jpeg", "image", ".jpg")),
    (b"\x89PNG\r\n\x1a\n", FileKind("image/png", "image", ".png")),
    (b"GIF87a", FileKind("image/gif", "image", ".gif")),
    (b"GIF89a", FileKind("image/gif", "image", ".gif")),
    (b"II*\x00", FileKind("image/tiff", "image", ".tif")),
    (b"MM\x00*", FileKind("image/tiff", "image", ".tif")),
    (b"II+\x00", FileKind("image/tiff", "image", ".tif")),
    (b"MM\x00+", FileKind("image/tiff", "image", ".tif")),
    (b"fLaC", FileKind("audio/flac", "audio", ".flac")),
    (b"\x1aE\xdf\xa3", FileKind("video/x-matroska", "video", ".mkv")),
    (
        b"0&\xb2u\x8ef\xcf\x11\xa6\xd9\x00\xaa\x00b\xcel",
        FileKind("video/x-ms-asf", "video", ".wmv"),
    ),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", FileKind("application/x-ole-storage", "office", "")),
    (b"\xff\x0a", FileKind("image/jxl", "image", ".jxl")),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", FileKind("image/jxl", "image", ".jxl")),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", FileKind("image/jp2", "image", ".jp2")),
    (b"8BPS", FileKind("image/vnd.adobe.photoshop", "image", ".psd")),
    (b"{\\rtf", FileKind("application/rtf", "office", ".rtf")),
]
PNM = re.compile(rb"P([1-6])[ \t\r\n#]")
PNM_EXT = {b"1": ".pbm", b"4": ".pbm", b"2": ".pgm", b"5": ".pgm", b"3": ".ppm", b"6": ".ppm"}


def sniff(source: BinaryIO) -> FileKind:
    """The file's type from its first bytes; the read position is restored."""
    position = source.tell()
    try:
        source.seek(0)
        head = source.read(HEAD)
        return _sniff(source, head)
    finally:
        source.seek(position)


def sniff_head(head: bytes) -> FileKind | None:
    """The type from the file's first ``HEAD`` bytes alone, as ``sniff`` would name the
    whole file; None where only more of it can tell (a zip's directory at its end
    says docx or archive; an MP3's first frame may lie past a long ID3 tag)."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06") or head[:3] == b"ID3":
        return None
    return _sniff(io.BytesIO(head), head[:HEAD])


def _sniff(source: BinaryIO, head: bytes) -> FileKind:
    for magic, kind in SIMPLE:
        if head.startswith(magic):
            if kind.mime == "image/tiff" and head[8:10] == b"CR":
                return FileKind("image/x-canon-cr2", "image", ".cr2")
            if kind.mime == "video/x-matroska" and b"webm" in head[:64]:
                return FileKind("video/webm", "video", ".webm")
            return kind
    if head[:4] == b"RIFF" and len(head) >= 12:
        return {
            b"WEBP": FileKind("image/webp", "image", ".webp"),
            b"WAVE": FileKind("audio/wav", "audio", ".wav"),
            b"AVI ": FileKind("video/x-msvideo", "video", ".avi"),
        }.get(head[8:12], OCTET)
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return FileKind("audio/aiff", "audio", ".aiff")
    if head[4:8] == b"ftyp":
        return _isobmff(head)
    if head[4:8] in QT_ATOMS and struct.unpack(">I", head[:4])[0] >= 8:
        return FileKind("video/quicktime", "video", ".mov")
    if head[:4] == b"OggS":
        return _ogg(head)
    if head[:2] == b"BM" and len(head) >= 18:
        if struct.unpack("<I", head[14:18])[0] in (12, 40, 52, 56, 64, 108, 124):
            return FileKind("image/bmp", "image", ".bmp")
    if m := PNM.match(head):
        return FileKind("image/x-portable-anymap", "image", PNM_EXT[m.group(1)])
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return _zip(source, head)
    audio = _mpeg_audio(source, head)
    if audio is not None:
        return audio
    if b"%PDF-" in head[:1024]:
        return FileKind("application/pdf", "pdf", ".pdf")
    return _text(head)


def _isobmff(head: bytes) -> FileKind:
    size = struct.unpack(">I", head[:4])[0]
    major = head[8:12]
    brands = {major} | {head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    if major in AVIF_BRANDS:
        return FileKind("image/avif", "image", ".avif")
    if major in HEIC_BRANDS:
        return FileKind("image/heic", "image", ".heic")
    if major in (b"mif1", b"msf1", b"mif2"):
        if brands & AVIF_BRANDS:
            return FileKind("image/avif", "image", ".avif")
        if brands & HEIC_BRANDS:
            return FileKind("image/heic", "image", ".heic")
        return FileKind("image/heif", "image", ".heif")
    if major == b"crx ":
        return FileKind("image/x-canon-cr3", "image", ".cr3")
    if major.startswith(b"3gp") or major.startswith(b"3gg"):
        return FileKind("video/3gpp", "video", ".3gp")
    if major.startswith(b"3g2"):
        return FileKind("video/3gpp2", "video", ".3g2")
    return MP4_BRANDS.get(major, MP4)


def _ogg(head: bytes) -> FileKind:
    if len(head) < 28:
        return OCTET
    payload = head[27 + head[26] :]
    if payload.startswith(b"\x01vorbis") or payload.startswith(b"Speex   "):
        return FileKind("audio/ogg", "audio", ".ogg")
    if payload.startswith(b"OpusHead"):
        return FileKind("audio/ogg", "audio", ".opus")
    if payload.startswith(b"\x7fFLAC"):
        return FileKind("audio/ogg", "audio", ".oga")
    if payload.startswith(b"\x80theora"):
        return FileKind("video/ogg", "video", ".ogv")
    return OCTET


def _mpeg_audio(source: BinaryIO, head: bytes) -> FileKind | None:
    offset = 0
    if head[:3] == b"ID3" and len(head) >= 10:
        size = 0
        for b in head[6:10]:
            size = (size << 7) | (b & 0x7F)
        offset = 10 + size + (10 if head[5] & 0x10 else 0)
        source.seek(offset)
        head = source.read(HEAD)
        if head.startswith(b"fLaC"):
            return FileKind("audio/flac", "audio", ".flac")
    if len(head) >= 4 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0:
        return FileKind("audio/aac", "audio", ".aac")
    length = _mpeg_frame_length(head)
    if length and (offset or _mpeg_frame_length(head[length : length + 4])):
        return FileKind("audio/mpeg", "audio", ".mp3")
    if offset:  # an ID3 tag in front of something we cannot place: let the demuxer try
        return FileKind("audio/mpeg", "audio", ".mp3")
    return None


BITRATES_V1_L3 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]


def _mpeg_frame_length(h: bytes) -> int:
    """Length of an MPEG-1/2 layer III frame starting at ``h`` (0 if not a frame)."""
    if len(h) < 4 or h[0] != 0xFF or (h[1] & 0xE0) != 0xE0:
        return 0
    version, layer = (h[1] >> 3) & 3, (h[1] >> 1) & 3
    rate_index, sr_index = h[2] >> 4, (h[2] >> 2) & 3
    if version == 1 or layer == 0 or rate_index in (0, 15) or sr_index == 3:
        return 0
    if layer != 1:  # layers I and II: accept, without chaining
        return 4
    rates = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
    sample_rate = rates[version][sr_index]
    v1 = version == 3
    bitrate = (
        BITRATES_V1_L3[rate_index]
        if v1
        else [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160][rate_index]
    )
    return (144 if v1 else 72) * bitrate * 1000 // sample_rate + ((h[2] >> 1) & 1)


def zip_entries(source: BinaryIO) -> int | None:
    """The entry count from the end-of-central-directory record, read without
    parsing the directory (a zip bomb may hold millions of entries)."""
    size = source.seek(0, 2)
    start = max(0, size - 65_557)
    source.seek(start)
    tail = source.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None
    entries = struct.unpack("<H", tail[at + 10 : at + 12])[0]
    locator = tail.rfind(b"PK\x06\x07", 0, at)
    if entries == 0xFFFF and locator >= 0:  # ZIP64: the real count is in the ZIP64 record
        source.seek(struct.unpack("<Q", tail[locator + 8 : locator + 16])[0])
        record = source.read(56)
        if record[:4] == b"PK\x06\x06" and len(record) == 56:
            entries = struct.unpack("<Q", record[32:40])[0]
    return entries


def _zip(source: BinaryIO, head: bytes) -> FileKind:
    try:
        entries = zip_entries(source)
        if entries is not None and entries > MAX_SNIFF_ENTRIES:
            raise zipfile.BadZipFile("too many entries to sniff")  # decided from the head below
        source.seek(0)
        with zipfile.ZipFile(source) as zf:
            names = set(zf.namelist())
            if "mimetype" in names:
                with zf.open("mimetype") as member:
                    declared = member.read(128).strip()
                if declared in ODF:
                    return ODF[declared]
            for main, kind in OOXML_MAIN.items():
                if main in names:
                    return kind
            if "content.xml" in names:
                return ODF[b"application/vnd.oasis.opendocument.text"]
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        ValueError,
        EOFError,
        NotImplementedError,
        KeyError,
        struct.error,
    ):
        # A broken (or huge) archive that says it is an office document is a
        # damaged one: the office sanitizer will say why.
        for main, kind in OOXML_MAIN.items():
            if main.encode() in head:
                return kind
        if b"[Content_Types].xml" in head[:64] or b"word/" in head[:64]:
            return OOXML_MAIN["word/document.xml"]
        if b"mimetypeapplication/vnd.oasis" in head[:128]:
            return ODF[b"application/vnd.oasis.opendocument.text"]
    return ZIP


def _text(head: bytes) -> FileKind:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<"):
        if b"<svg" in text:
            return FileKind("image/svg+xml", "image", ".svg")
        if text.startswith(b"<!doctype html") or b"<html" in text[:512]:
            return FileKind("text/html", "other", ".html")
        return FileKind("application/xml", "other", ".xml")
    return OCTET
