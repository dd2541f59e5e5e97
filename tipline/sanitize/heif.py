"""HEIC/HEIF and AVIF without re-encoding: rebuild the ISO-BMFF container from
an allowlist, copying the coded image data as it is.

Kept: the primary image item, its tiles (grid 'dimg' references) and its alpha
plane, with their properties (codec configuration without SEI, size, pixel
info, rotation 'irot', mirror 'imir', clean aperture, HDR light levels, nclx
colour, and a standard ICC profile rebuilt by icc.py). Rotation is stored as
HEIF properties, so the picture shows the same way up.

Removed: Exif and XMP items (GPS, camera, dates), thumbnails, depth maps, HDR
gain maps and other auxiliary or secondary images, entity groups, item names,
and every byte of the original 'mdat' that kept items do not use.

Anything unusual (image sequences, protected items, unknown essential
properties, data in other files) raises ``NotLossless`` and the caller falls
back to a re-encode. The result is checked by parsing it with libheif.
"""

from __future__ import annotations

import dataclasses
import functools
import struct
from typing import BinaryIO

from . import isobmff as bmff
from .common import Context, stream_size
from .exif import read_exif, report_exif
from .icc import sanitize_icc
from .isobmff import NotLossless
from .limits import Damaged, LimitExceeded
from .report import Report

CODED = {b"hvc1", b"av01"}
DERIVED = {b"grid", b"iovl", b"iden"}
PROPERTIES = {
    b"hvcC",
    b"av1C",
    b"ispe",
    b"pixi",
    b"colr",
    b"irot",
    b"imir",
    b"clap",
    b"pasp",
    b"auxC",
    b"rloc",
    b"lsel",
    b"a1op",
    b"a1lx",
    b"clli",
    b"mdcv",
    b"cclv",
    b"amve",
}
ALPHA = (b"urn:mpeg:hevc:2015:auxid:1", b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha")
MAX_META = 16 * 1024 * 1024


def _top_level(src: BinaryIO) -> tuple[bytes, bytes, list[tuple[bytes, int, int]]]:
    size = stream_size(src)
    pos, ftyp, meta = 0, b"", b""
    others: list[tuple[bytes, int, int]] = []
    while pos + 8 <= size and len(others) < 1000:
        src.seek(pos)
        head = src.read(16)
        length, kind = struct.unpack(">I4s", head[:8])
        if length == 1:
            length = struct.unpack(">Q", head[8:16])[0]
        elif length == 0:
            length = size - pos
        if length < 8 or pos + length > size:
            raise Damaged("bad_structure", "HEIF box runs past the end of the file")
        if kind in (b"ftyp", b"meta"):
            if length > MAX_META:
                raise LimitExceeded("too_large", "HEIF metadata box over the limit")
            src.seek(pos)
            box = src.read(length)
            header = 16 if struct.unpack(">I", box[:4])[0] == 1 else 8
            if kind == b"ftyp":
                ftyp = box
            else:
                meta = box[header:]
        else:
            others.append((kind, pos, length))
        pos += length
    if not ftyp or not meta:
        raise Damaged("bad_structure", "HEIF without ftyp or meta")
    if any(kind in (b"moov", b"moof") for kind, _, _ in others):
        raise NotLossless("image sequence")
    return ftyp, meta, others


def rebuild(src: BinaryIO, dst: BinaryIO, ctx: Context, report: Report) -> None:
    ftyp, meta, others = _top_level(src)
    boxes = dict(bmff.boxes(meta, 4))
    for needed in (b"hdlr", b"pitm", b"iloc", b"iinf", b"iprp"):
        if needed not in boxes:
            raise Damaged("bad_structure", "HEIF meta box incomplete")
    primary = bmff.pitm(boxes[b"pitm"])
    infos = bmff.iinf(boxes[b"iinf"])
    locations = bmff.iloc(boxes[b"iloc"])
    refs = bmff.iref(boxes.get(b"iref", b""))
    props, assoc = bmff.iprp(boxes[b"iprp"])
    keep = _select(primary, infos, refs, props, assoc, report)
    _report_dropped(src, boxes, infos, locations, refs, keep, report)
    for kind in boxes:
        if kind not in (b"hdlr", b"pitm", b"iloc", b"iinf", b"iprp", b"iref", b"idat", b"dinf"):
            report.add("other")
    if any(kind not in (b"mdat", b"free", b"skip") for kind, _, _ in others):
        report.add("other")
    new_props, new_assoc = _properties(keep, props, assoc, ctx, report)
    layout = _layout(keep, locations, boxes.get(b"idat", b""), stream_size(src))
    meta_box = functools.partial(
        _meta,
        boxes=boxes,
        primary=primary,
        keep=keep,
        infos=infos,
        refs=refs,
        props=new_props,
        assoc=new_assoc,
        layout=layout,
    )
    mdat_start = len(ftyp) + len(meta_box(mdat_start=0)) + 8
    if mdat_start + layout.mdat_length > 0xFFFFFFFF:
        raise NotLossless("over 4 GiB")
    dst.write(ftyp + meta_box(mdat_start=mdat_start))
    dst.write(struct.pack(">I4s", layout.mdat_length + 8, b"mdat"))
    for start, length in layout.file_extents:
        src.seek(start)
        left = length
        while left:
            piece = src.read(min(left, 1 << 20))
            if not piece:
                raise Damaged("truncated", "HEIF item data past the end of the file")
            dst.write(piece)
            left -= len(piece)
        ctx.deadline.check()


def _properties(
    keep: set[int],
    props: list[tuple[bytes, bytes]],
    assoc: dict[int, list[tuple[bool, int]]],
    ctx: Context,
    report: Report,
) -> tuple[list[bytes], dict[int, list[tuple[bool, int]]]]:
    """The properties the kept items use, cleaned and renumbered."""
    new_props: list[bytes] = []
    renumber: dict[int, int] = {}
    new_assoc: dict[int, list[tuple[bool, int]]] = {}
    for item in sorted(keep):
        for essential, index in assoc.get(item, []):
            if index == 0:  # "no property": allowed, means nothing
                continue
            if index not in renumber:
                if not 0 < index <= len(props):
                    raise Damaged("bad_structure", "HEIF property index out of range")
                cleaned = _clean_property(*props[index - 1], ctx, report, essential)
                if cleaned is None:
                    continue
                new_props.append(cleaned)
                renumber[index] = len(new_props)
            new_assoc.setdefault(item, []).append((essential, renumber[index]))
    return new_props, new_assoc


@dataclasses.dataclass
class _Layout:
    plan: list[tuple[int, int, list[tuple[int, int]]]]  # item, method, [(new offset, length)]
    file_extents: list[tuple[int, int]]  # (offset in the source, length), in mdat order
    mdat_length: int
    idat: bytes


def _layout(
    keep: set[int],
    locations: dict[int, tuple[int, int, list[tuple[int, int]]]],
    idat: bytes,
    total: int,
) -> _Layout:
    """Where each kept item's data goes in the fresh mdat (file data) and idat."""
    layout = _Layout([], [], 0, b"")
    new_idat = bytearray()
    for item in sorted(keep):
        method, base, extents = locations.get(item, (0, 0, []))
        placed: list[tuple[int, int]] = []
        for offset, length in extents:
            start = base + offset
            if method == 0:
                length = length or total - start
                if start + length > total:
                    raise Damaged("truncated", "HEIF item data past the end of the file")
                placed.append((layout.mdat_length, length))
                layout.file_extents.append((start, length))
                layout.mdat_length += length
            elif method == 1:
                length = length or len(idat) - start
                placed.append((len(new_idat), length))
                new_idat += idat[start : start + length]
            else:
                raise NotLossless("item-relative data")
        layout.plan.append((item, method, placed))
    layout.idat = bytes(new_idat)
    return layout


def _meta(
    *,
    boxes: dict[bytes, bytes],
    primary: int,
    keep: set[int],
    infos: dict[int, tuple[int, bytes, bytes]],
    refs: list[tuple[bytes, int, list[int]]],
    props: list[bytes],
    assoc: dict[int, list[tuple[bool, int]]],
    layout: _Layout,
    mdat_start: int,
) -> bytes:
    parts = [
        bmff.box(b"hdlr", boxes[b"hdlr"]),
        bmff.full(b"pitm", 1, 0, struct.pack(">I", primary)),
    ]
    if b"dinf" in boxes:  # a fresh self-contained data reference (no URL text)
        url = bmff.full(b"url ", 0, 1, b"")
        parts.append(bmff.box(b"dinf", bmff.full(b"dref", 0, 0, struct.pack(">I", 1) + url)))
    parts.append(_iloc_box(layout.plan, mdat_start))
    parts.append(_iinf_box(keep, infos))
    parts.append(_iref_box(refs, keep))
    ipma = b"".join(
        struct.pack(">IB", item, len(entries))
        + b"".join(struct.pack(">H", (0x8000 if ess else 0) | idx) for ess, idx in entries)
        for item, entries in sorted(assoc.items())
    )
    parts.append(
        bmff.box(
            b"iprp",
            bmff.box(b"ipco", b"".join(props))
            + bmff.full(b"ipma", 1, 1, struct.pack(">I", len(assoc)) + ipma),
        )
    )
    if layout.idat:
        parts.append(bmff.box(b"idat", layout.idat))
    return bmff.full(b"meta", 0, 0, b"".join(parts))


def _select(
    primary: int,
    infos: dict[int, tuple[int, bytes, bytes]],
    refs: list[tuple[bytes, int, list[int]]],
    props: list[tuple[bytes, bytes]],
    assoc: dict[int, list[tuple[bool, int]]],
    report: Report,
) -> set[int]:
    if primary not in infos:
        raise Damaged("bad_structure", "HEIF primary item missing")
    keep = {primary}
    for kind, source, targets in refs:  # the alpha plane of the primary image
        if kind == b"auxl" and primary in targets:
            aux = [
                body
                for ess, idx in assoc.get(source, [])
                if 0 < idx <= len(props)
                for ptype, body in [props[idx - 1]]
                if ptype == b"auxC"
            ]
            if aux and aux[0][4:].split(b"\x00")[0] in ALPHA:
                keep.add(source)
    changed = True
    while changed:  # tiles and derivation inputs of kept images
        changed = False
        for kind, source, targets in refs:
            if kind in (b"dimg", b"base") and source in keep and not set(targets) <= keep:
                keep.update(targets)
                changed = True
    for item in keep:
        item_type = infos.get(item, (0, b"", b""))[1]
        if item_type not in CODED | DERIVED:
            raise NotLossless("unknown image item type")
    return keep


def _report_dropped(
    src: BinaryIO,
    boxes: dict[bytes, bytes],
    infos: dict[int, tuple[int, bytes, bytes]],
    locations: dict[int, tuple[int, int, list[tuple[int, int]]]],
    refs: list[tuple[bytes, int, list[int]]],
    keep: set[int],
    report: Report,
) -> None:
    thumbs = {source for kind, source, _ in refs if kind == b"thmb"}
    auxiliary = {source for kind, source, _ in refs if kind == b"auxl"}
    for item, (flags, item_type, content_type) in infos.items():
        if item in keep:
            continue
        if item_type == b"Exif":
            data = _item_data(src, boxes.get(b"idat", b""), locations.get(item))
            offset = struct.unpack(">I", data[:4])[0] if len(data) >= 4 else 0
            report_exif(read_exif(data[4 + offset :]), report)
        elif item_type == b"mime":
            report.add("xmp" if b"rdf" in content_type or b"xmp" in content_type else "other")
        elif item in thumbs:
            report.add("thumbnail")
        elif item in auxiliary:  # depth maps, HDR gain maps
            report.add("secondary_images")
        elif item_type in CODED | DERIVED and not flags & 1:
            report.add("secondary_images")
        elif item_type in (b"tmap",):
            report.add("secondary_images")
        elif item_type not in CODED:
            report.add("other")
    if b"grpl" in boxes:
        report.add("other")


def _item_data(
    src: BinaryIO, idat: bytes, location: tuple[int, int, list[tuple[int, int]]] | None
) -> bytes:
    if location is None:
        return b""
    method, base, extents = location
    out = b""
    for offset, length in extents[:4]:
        length = min(length, 1 << 20)
        if method == 0:
            src.seek(base + offset)
            out += src.read(length)
        elif method == 1:
            out += idat[base + offset : base + offset + length]
    return out


def _clean_property(
    kind: bytes, body: bytes, ctx: Context, report: Report, essential: bool
) -> bytes | None:
    if kind not in PROPERTIES:
        if essential:
            raise NotLossless("unknown essential property")
        report.add("other")
        return None
    if kind == b"colr" and body[:4] in (b"prof", b"rICC"):
        kept = sanitize_icc(body[4:], ctx.limits.max_icc_bytes)
        if kept is None:
            report.add("icc")
            report.note("icc_removed")
            return None
        report.note("icc_kept")
        return bmff.box(b"colr", body[:4] + kept[0])
    if kind == b"hvcC":
        return bmff.box(b"hvcC", _hvcc_without_sei(body, report))
    return bmff.box(kind, body)


def _hvcc_without_sei(body: bytes, report: Report) -> bytes:
    out, pos = bytearray(body[:23]), 23
    arrays = body[22]
    kept = 0
    for _ in range(arrays):
        nal_type, count = body[pos] & 0x3F, struct.unpack(">H", body[pos + 1 : pos + 3])[0]
        end = pos + 3
        for _ in range(count):
            end += 2 + struct.unpack(">H", body[end : end + 2])[0]
        if end > len(body):
            raise Damaged("bad_structure", "HEVC configuration truncated")
        if nal_type in (39, 40):  # SEI messages: not needed to decode
            report.add("other")
        else:
            out += body[pos:end]
            kept += 1
        pos = end
    out[22] = kept
    return bytes(out)


def _iloc_box(plan: list[tuple[int, int, list[tuple[int, int]]]], mdat_start: int) -> bytes:
    body = bytearray(struct.pack(">HI", 0x4400, len(plan)))  # 4-byte offsets and lengths
    for item, method, extents in plan:
        body += struct.pack(">IHHH", item, method, 0, len(extents))
        for offset, length in extents:
            body += struct.pack(">II", offset + (mdat_start if method == 0 else 0), length)
    return bmff.full(b"iloc", 2, 0, bytes(body))


def _iinf_box(keep: set[int], infos: dict[int, tuple[int, bytes, bytes]]) -> bytes:
    entries = b"".join(
        bmff.full(
            b"infe", 3, infos[item][0] & 1, struct.pack(">IH4s", item, 0, infos[item][1]) + b"\x00"
        )
        for item in sorted(keep)
    )
    return bmff.full(b"iinf", 1, 0, struct.pack(">I", len(keep)) + entries)


def _iref_box(refs: list[tuple[bytes, int, list[int]]], keep: set[int]) -> bytes:
    body = b"".join(
        bmff.box(
            kind,
            struct.pack(">IH", source, len(targets))
            + b"".join(struct.pack(">I", t) for t in targets),
        )
        for kind, source, targets in refs
        if source in keep
        and targets
        and set(targets) <= keep
        and kind in (b"dimg", b"auxl", b"base", b"prem")
    )
    return bmff.full(b"iref", 1, 0, body) if body else b""
