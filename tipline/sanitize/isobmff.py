"""ISO-BMFF box reading and writing, and the HEIF item tables (pitm, iinf, iloc,
iref, iprp/ipma) as plain Python data. Used by heif.py; every reader checks
bounds and raises Damaged or NotLossless, never IndexError on short input."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from .limits import Damaged


class NotLossless(Exception):
    """The container has something we do not rebuild; re-encode instead."""


def boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, bytes]]:
    pos, end = start, len(data) if end is None else end
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[pos + 8 : pos + 16])[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise Damaged("bad_structure", "HEIF box runs past its parent")
        yield kind, data[pos + header : pos + size]
        pos += size


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full(kind: bytes, version: int, flags: int, payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags) + payload)


def pitm(payload: bytes) -> int:
    version = payload[0]
    return struct.unpack(">I" if version else ">H", payload[4:8] if version else payload[4:6])[0]


def iinf(payload: bytes) -> dict[int, tuple[int, bytes, bytes]]:
    """item id -> (infe flags, item type, content type)."""
    version = payload[0]
    start = 8 if version else 6
    infos: dict[int, tuple[int, bytes, bytes]] = {}
    for kind, body in boxes(payload, start):
        if kind != b"infe":
            continue
        version, flags = body[0], int.from_bytes(body[1:4], "big")
        if version < 2:
            raise NotLossless("old item info")
        if version == 2:
            item, protection, item_type = struct.unpack(">HH4s", body[4:12])
            rest = body[12:]
        else:
            item, protection, item_type = struct.unpack(">IH4s", body[4:14])
            rest = body[14:]
        if protection:
            raise NotLossless("protected item")
        content_type = b""
        if item_type == b"mime":
            content_type = rest.split(b"\x00", 2)[1] if rest.count(b"\x00") >= 2 else b""
        infos[item] = (flags, item_type, content_type)
    return infos


def iloc(payload: bytes) -> dict[int, tuple[int, int, list[tuple[int, int]]]]:
    version = payload[0]
    sizes = struct.unpack(">H", payload[4:6])[0]
    off_size, len_size, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15
    index_size = sizes & 15 if version in (1, 2) else 0
    pos = 6

    def take(n: int) -> int:
        nonlocal pos
        if n not in (0, 4, 8):
            raise Damaged("bad_structure", "HEIF item location field size")
        value = int.from_bytes(payload[pos : pos + n], "big") if n else 0
        if pos + n > len(payload):
            raise Damaged("bad_structure", "HEIF item locations truncated")
        pos += n
        return value

    count = take(4) if version == 2 else u16(payload, pos)
    if version != 2:
        pos += 2
    locations: dict[int, tuple[int, int, list[tuple[int, int]]]] = {}
    for _ in range(count):
        if version == 2:
            item = take(4)
        else:
            item = u16(payload, pos)
            pos += 2
        method = 0
        if version in (1, 2):
            method = int.from_bytes(payload[pos : pos + 2], "big") & 15
            pos += 2
        reference = int.from_bytes(payload[pos : pos + 2], "big")
        pos += 2
        if reference != 0:
            raise NotLossless("data in another file")
        base = take(base_size)
        extent_count = int.from_bytes(payload[pos : pos + 2], "big")
        pos += 2
        extents = []
        for _ in range(extent_count):
            take(index_size)
            extents.append((take(off_size), take(len_size)))
        locations[item] = (method, base, extents)
    return locations


def u16(data: bytes, pos: int) -> int:
    if pos + 2 > len(data):
        raise Damaged("bad_structure", "HEIF box truncated")
    return int.from_bytes(data[pos : pos + 2], "big")


def iref(payload: bytes) -> list[tuple[bytes, int, list[int]]]:
    if not payload:
        return []
    wide = payload[0] >= 1
    fmt, step = (">I", 4) if wide else (">H", 2)
    refs = []
    for kind, body in boxes(payload, 4):
        source = struct.unpack(fmt, body[:step])[0]
        count = struct.unpack(">H", body[step : step + 2])[0]
        targets = [
            struct.unpack(fmt, body[step + 2 + i * step : step + 2 + (i + 1) * step])[0]
            for i in range(count)
        ]
        refs.append((kind, source, targets))
    return refs


def iprp(payload: bytes) -> tuple[list[tuple[bytes, bytes]], dict[int, list[tuple[bool, int]]]]:
    children = list(boxes(payload))
    ipco = next((body for kind, body in children if kind == b"ipco"), b"")
    props = list(boxes(ipco))
    assoc: dict[int, list[tuple[bool, int]]] = {}
    for kind, body in children:
        if kind != b"ipma":
            continue
        version, flags = body[0], int.from_bytes(body[1:4], "big")
        count = struct.unpack(">I", body[4:8])[0]
        pos = 8
        for _ in range(count):
            if version < 1:
                item, pos = struct.unpack(">H", body[pos : pos + 2])[0], pos + 2
            else:
                item, pos = struct.unpack(">I", body[pos : pos + 4])[0], pos + 4
            n, pos = body[pos], pos + 1
            for _ in range(n):
                if flags & 1:
                    value, pos = struct.unpack(">H", body[pos : pos + 2])[0], pos + 2
                    assoc.setdefault(item, []).append((bool(value & 0x8000), value & 0x7FFF))
                else:
                    value, pos = body[pos], pos + 1
                    assoc.setdefault(item, []).append((bool(value & 0x80), value & 0x7F))
    return props, assoc
