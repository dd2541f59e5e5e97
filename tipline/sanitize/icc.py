"""ICC colour profiles: keep well-known standard ones (rebuilt), drop the rest.

Why: a profile is needed to show wide-gamut photos (an iPhone's "Display P3")
with the right colours, but a profile can also identify a device: a calibrated
monitor profile names the display model and carries its measured calibration
("Color LCD", MakeAndModel, NativeDisplayInfo, VideoCardGamma), a camera maker's
profile names the maker, and header fields name the creating software and date.

Policy: a profile is kept only if its description is one of a short list of
standard colour spaces (sRGB, Display P3, Adobe RGB ...), and even then it is
rebuilt: the header's CMM, date, platform, manufacturer, model, attributes,
creator and profile id are zeroed, only colour-transform tags are copied, and
the description is rewritten from our list (so no hidden text survives in it).
Anything else, or anything that does not parse, is dropped.
"""

from __future__ import annotations

import struct

STANDARD = {
    name.lower(): name
    for name in (
        "sRGB IEC61966-2.1",
        "sRGB IEC61966-2-1 black scaled",
        "sRGB",
        "sRGB built-in",
        "GIMP built-in sRGB",
        "sRGB2014",
        "sRGB v4 ICC preference perceptual intent beta",
        "c2",
        "Display P3",
        "DCI-P3",
        "P3 D65",
        "Adobe RGB (1998)",
        "ProPhoto RGB",
        "ITU-R BT.2020",
        "Rec. 2020",
        "Rec2020",
        "Generic RGB Profile",
        "Generic Gray Profile",
        "Generic Gray Gamma 2.2 Profile",
        "Gray Gamma 2.2",
        "Dot Gain 20%",
        "Linear Gray",
        "Generic CMYK Profile",
        "U.S. Web Coated (SWOP) v2",
        "Coated FOGRA27 (ISO 12647-2:2004)",
        "Coated FOGRA39 (ISO 12647-2:2004)",
        "Uncoated FOGRA29 (ISO 12647-2:2004)",
        "Japan Color 2001 Coated",
        "Coated GRACoL 2006 (ISO 12647-2:2004)",
    )
}
# Tags that describe colour, and nothing about a device or a person.
COLOUR_TAGS = {
    b"wtpt",
    b"bkpt",
    b"rXYZ",
    b"gXYZ",
    b"bXYZ",
    b"rTRC",
    b"gTRC",
    b"bTRC",
    b"kTRC",
    b"chad",
    b"chrm",
    b"lumi",
    b"A2B0",
    b"A2B1",
    b"A2B2",
    b"B2A0",
    b"B2A1",
    b"B2A2",
    b"gamt",
    b"cicp",
    b"D2B0",
    b"D2B1",
    b"D2B2",
    b"B2D0",
    b"B2D1",
    b"B2D2",
    b"clro",
    b"clrt",
    b"colt",
}
# Header fields zeroed in a kept profile: (start, end).
SCRUB = [(4, 8), (24, 36), (40, 44), (44, 48), (48, 52), (52, 56), (56, 64), (80, 84), (84, 100)]


def sanitize_icc(data: bytes, max_bytes: int) -> tuple[bytes, str] | None:
    """(rebuilt profile, standard name) if the profile may be kept, else None."""
    try:
        return _rebuild(data, max_bytes)
    except (struct.error, IndexError, ValueError, UnicodeDecodeError):
        return None


def _rebuild(data: bytes, max_bytes: int) -> tuple[bytes, str] | None:
    if len(data) < 132 or len(data) > max_bytes or data[36:40] != b"acsp":
        return None
    size = struct.unpack(">I", data[:4])[0]
    if size < 132 or size > len(data):
        return None
    data = data[:size]
    count = struct.unpack(">I", data[128:132])[0]
    if count > 200:
        return None
    tags: dict[bytes, tuple[int, int]] = {}
    for i in range(count):
        sig, offset, length = struct.unpack(">4sII", data[132 + 12 * i : 144 + 12 * i])
        if offset + length > size or length < 8:
            return None
        tags[sig] = (offset, length)
    if b"desc" not in tags:
        return None
    name = STANDARD.get(_description(data, *tags[b"desc"]).strip().lower())
    if name is None:
        return None
    v4 = data[8] >= 4
    kept = [(sig, data[o : o + n]) for sig, (o, n) in tags.items() if sig in COLOUR_TAGS]
    kept.append((b"desc", _mluc(name) if v4 else _text_description(name)))
    header = bytearray(data[:128])
    for start, end in SCRUB:
        header[start:end] = bytes(end - start)
    table = bytearray(struct.pack(">I", len(kept)))
    body = bytearray()
    offset = 128 + 4 + 12 * len(kept)
    shared: dict[bytes, int] = {}
    for sig, blob in kept:
        if blob not in shared:  # identical tag data (rTRC = gTRC = bTRC) is stored once
            shared[blob] = offset + len(body)
            body += blob + bytes(-len(blob) % 4)
        table += struct.pack(">4sII", sig, shared[blob], len(blob))
    profile = bytearray(header + table + body)
    profile[:4] = struct.pack(">I", len(profile))
    return bytes(profile), name


def _description(data: bytes, offset: int, length: int) -> str:
    tag = data[offset : offset + length]
    if tag[:4] == b"desc":
        n = struct.unpack(">I", tag[8:12])[0]
        return tag[12 : 12 + n].split(b"\x00")[0].decode("latin-1")
    if tag[:4] == b"mluc":
        records, record_size = struct.unpack(">II", tag[8:16])
        if records < 1 or record_size < 12:
            return ""
        n, at = struct.unpack(">II", tag[20:28])
        return tag[at : at + n].decode("utf-16-be").split("\x00")[0]
    return ""


def _text_description(name: str) -> bytes:
    ascii_name = name.encode("ascii") + b"\x00"
    return (
        b"desc\x00\x00\x00\x00"
        + struct.pack(">I", len(ascii_name))
        + ascii_name
        + bytes(8)
        + bytes(3)
        + bytes(67)
    )


def _mluc(name: str) -> bytes:
    text = name.encode("utf-16-be")
    return (
        b"mluc\x00\x00\x00\x00"
        + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(text), 28)
        + text
    )
