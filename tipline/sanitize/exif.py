"""A small, tolerant EXIF (TIFF structure) reader, used only to *report* what was
removed and to read the orientation, plus a writer for a minimal EXIF block that
holds nothing but the Orientation tag.

Reading never raises: a corrupt EXIF block is still removed, it is just reported
as "exif".
"""

from __future__ import annotations

import dataclasses
import struct

ORIENTATION = 0x0112
EXIF_IFD, GPS_IFD, INTEROP_IFD = 0x8769, 0x8825, 0xA005

# Tag id -> report code. Anything not listed is reported as "exif".
TAG_CODES = {
    0x010F: "camera",
    0x0110: "camera",
    0xA433: "camera",
    0xA434: "camera",
    0x0131: "software",
    0x000B: "software",
    0x0132: "creation_time",
    0x9003: "creation_time",
    0x9004: "creation_time",
    0x9010: "creation_time",
    0x9011: "creation_time",
    0x9012: "creation_time",
    0x9290: "creation_time",
    0x9291: "creation_time",
    0x9292: "creation_time",
    0x013B: "author",
    0x8298: "author",
    0xA430: "author",
    0x9C9D: "author",
    0x010E: "description",
    0x9C9B: "description",
    0x9C9E: "description",
    0x9C9F: "description",
    0x9286: "comments",
    0x9C9C: "comments",
    0xA431: "device",
    0xA435: "device",
    0xA420: "device",
    0x927C: "makernote",
    0x83BB: "iptc",
    0x8649: "iptc",
    0x02BC: "xmp",
    0x8773: "icc",
}
SKIP = {
    ORIENTATION,
    EXIF_IFD,
    GPS_IFD,
    INTEROP_IFD,
    0x0201,
    0x0202,
    0x0103,
    0x011A,
    0x011B,
    0x0128,
    0x0213,
    0xA001,
    0x9000,
    0xA000,
    0x9101,
}


@dataclasses.dataclass
class ExifInfo:
    orientation: int | None = None
    found: set[str] = dataclasses.field(default_factory=set)
    thumbnail: bool = False


def read_exif(data: bytes) -> ExifInfo:
    """What an EXIF block (TIFF header onwards, or with the "Exif\\0\\0" prefix) holds."""
    info = ExifInfo()
    if data.startswith(b"Exif\x00\x00"):
        data = data[6:]
    try:
        if not _walk(data, info):
            info.found.add("exif")
    except (struct.error, IndexError, ValueError):
        info.found.add("exif")
    return info


def _walk(data: bytes, info: ExifInfo) -> bool:
    if data[:4] == b"II*\x00":
        end = "<"
    elif data[:4] == b"MM\x00*":
        end = ">"
    else:
        return False
    first = struct.unpack(end + "I", data[4:8])[0]
    seen: set[int] = set()
    queue: list[tuple[int, str]] = [(first, "ifd0")]
    while queue and len(seen) < 16:
        offset, which = queue.pop(0)
        if offset in seen or offset <= 0 or offset + 2 > len(data):
            continue
        seen.add(offset)
        count = struct.unpack(end + "H", data[offset : offset + 2])[0]
        if which == "ifd1" and count:
            info.thumbnail = True
        for i in range(min(count, 1000)):
            entry = data[offset + 2 + 12 * i : offset + 14 + 12 * i]
            if len(entry) < 12:
                break
            tag, typ, _n = struct.unpack(end + "HHI", entry[:8])
            if which == "gps":
                info.found.add("gps")
                continue
            if tag == ORIENTATION and which == "ifd0" and typ == 3:
                value = struct.unpack(end + "H", entry[8:10])[0]
                info.orientation = value if 1 <= value <= 8 else None
            elif tag in (EXIF_IFD, GPS_IFD, INTEROP_IFD):
                sub = struct.unpack(end + "I", entry[8:12])[0]
                queue.append((sub, {EXIF_IFD: "exif", GPS_IFD: "gps"}.get(tag, "interop")))
            elif tag in TAG_CODES:
                info.found.add(TAG_CODES[tag])
            elif tag not in SKIP:
                info.found.add("exif")
        if which == "ifd0":
            next_at = offset + 2 + 12 * count
            nxt = struct.unpack(end + "I", data[next_at : next_at + 4])[0]
            if nxt:
                queue.append((nxt, "ifd1"))
    return True


def minimal_exif(orientation: int) -> bytes:
    """A TIFF-structured EXIF block holding only the Orientation tag."""
    return (
        b"MM\x00*\x00\x00\x00\x08\x00\x01"
        + struct.pack(">HHIHH", ORIENTATION, 3, 1, orientation, 0)
        + b"\x00\x00\x00\x00"
    )


def report_exif(info: ExifInfo, report) -> None:
    for code in sorted(info.found):
        report.add(code)
    if info.thumbnail:
        report.add("thumbnail")
