"""Zip containers (office documents): bomb-safe reading and deterministic writing.

Reading: the member count, every member's declared size, the declared total
and the compression ratio are checked before anything is inflated; zipfile
itself never inflates past a member's declared size and checks its CRC.
Duplicate names, encrypted members and names escaping the archive are refused.

Writing: members get a fixed timestamp (1980-01-01 00:00), no extra fields, no
comments and fixed permissions, so zip metadata cannot carry when or where the
document was made.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from typing import BinaryIO

from .common import Context
from .limits import Damaged, LimitExceeded, Unsupported
from .report import Report, SanitizeStatus
from .sniff import sniff, zip_entries

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
RATIO_FLOOR = 1024 * 1024  # small members may compress as well as they like
EMBEDDED_FAMILIES = {"image", "video", "audio", "pdf", "office"}


class Archive:
    def __init__(self, src: BinaryIO, ctx: Context) -> None:
        self.ctx = ctx
        entries = zip_entries(src)  # before zipfile builds one object per entry
        if entries is not None and entries > ctx.limits.max_zip_members:
            raise LimitExceeded("zip_bomb", "more zip members than the limit")
        src.seek(0)
        try:
            self.zf = zipfile.ZipFile(src)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
            raise Damaged("bad_zip", "not a readable zip archive") from exc
        except NotImplementedError as exc:  # a zip feature Python does not read
            raise Unsupported("unsupported_variant", "unsupported zip variant") from exc
        infos = self.zf.infolist()
        lim = ctx.limits
        if len(infos) > lim.max_zip_members:
            raise LimitExceeded("zip_bomb", "more zip members than the limit")
        total = 0
        self.infos: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if info.flag_bits & 0x1:
                raise Unsupported("encrypted", "encrypted zip member")
            name = info.filename
            if name in self.infos:
                raise Damaged("bad_zip", "duplicate zip member names")
            if name.startswith("/") or ".." in name.split("/") or "\\" in name:
                raise Damaged("bad_zip", "zip member name escapes the archive")
            total += info.file_size
            if info.file_size > lim.max_zip_member_bytes or total > lim.max_zip_total_bytes:
                raise LimitExceeded("zip_bomb", "zip expands past the size limit")
            if info.file_size > RATIO_FLOOR and info.file_size > lim.max_zip_ratio * max(
                info.compress_size, 1
            ):
                raise LimitExceeded("zip_bomb", "zip member compression ratio over the limit")
            self.infos[name] = info

    def __contains__(self, name: str) -> bool:
        return name in self.infos

    def names(self) -> list[str]:
        return list(self.infos)

    def read(self, name: str) -> bytes:
        info = self.infos[name]
        try:
            with self.zf.open(info) as member:
                data = member.read(info.file_size + 1)
        except (zipfile.BadZipFile, NotImplementedError, EOFError) as exc:
            raise Damaged("bad_zip", "zip member does not inflate") from exc
        if len(data) > info.file_size:
            raise Damaged("bad_zip", "zip member larger than declared")
        self.ctx.deadline.check()
        return data

    def close(self) -> None:
        self.zf.close()


class Writer:
    def __init__(self, dst: BinaryIO) -> None:
        self.zf = zipfile.ZipFile(dst, "w", allowZip64=True)

    def add(self, name: str, data: bytes, *, stored: bool = False) -> None:
        info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        info.create_system = 0
        info.external_attr = 0
        self.zf.writestr(info, data)

    def close(self) -> None:
        self.zf.close()


def resolve(base_dir: str, target: str) -> str | None:
    """A relationship target as a member name, or None if it leaves the archive."""
    if target.startswith("/"):
        path = posixpath.normpath(target.lstrip("/"))
    else:
        path = posixpath.normpath(posixpath.join(base_dir, target))
    if path.startswith("..") or path in (".", ""):
        return None
    return path


def clean_embedded(name: str, data: bytes, ctx: Context, report: Report) -> bytes | None:
    """Clean a file stored inside a document: the cleaned bytes, the original
    bytes for types that carry no metadata we know of, or None to drop it."""
    from . import run  # a document may hold any kind of file

    kind = sniff(io.BytesIO(data))
    if kind.family not in EMBEDDED_FAMILIES:
        return data
    if ctx.depth >= ctx.limits.max_nesting:
        report.add("embedded_files")
        report.note("embedded_dropped")
        return None
    out = io.BytesIO()
    sub = run(io.BytesIO(data), out, ctx.nested(kind))
    if sub.status in (SanitizeStatus.CLEANED, SanitizeStatus.CLEANED_REENCODED):
        for item in sub.removed:
            report.add(item.what, item.count)
        return out.getvalue()
    if sub.status == SanitizeStatus.NOT_SANITIZED and kind.family == "image":
        return data  # EMF/WMF/SVG-like pictures we cannot clean: kept, see docs
    report.add("embedded_files")
    report.note("embedded_dropped")
    return None
