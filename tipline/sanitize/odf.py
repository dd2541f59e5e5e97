"""OpenDocument (odt, ods, odp, odg, odf): rebuild the package from an allowlist.

Kept: ``mimetype`` (first, stored, as the format requires), the manifest
(rewritten to list only what is kept), content.xml and styles.xml (of the
document and of embedded objects such as charts), pictures and object
replacement images (each cleaned by its own sanitizer).

Removed: meta.xml (author, initial creator, dates, editing time and cycles,
generator, statistics, user-defined properties), settings.xml (printer name
and printer setup blob, window layout, cursor position), thumbnails, UI
configuration, manifest.rdf, signatures (they carry the signer's identity),
Basic/Scripts macros and anything else.

Inside content.xml/styles.xml: tracked changes are accepted (the change log
with authors, dates and deleted text is removed, change markers go), comments
(office:annotation, with their authors and dates) are removed, LibreOffice
revision session ids (officeooo:rsid, paragraph-rsid) are removed, event
listeners (macro bindings) are removed, and links to pictures outside the
package (which name local paths) are cut.
"""

from __future__ import annotations

import posixpath
import re
from typing import BinaryIO

from .common import Context
from .limits import Damaged, Unsupported
from .report import Report
from .xmlfilter import QName, Rules, filter_xml
from .zipparts import Archive, Writer, clean_embedded

OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
OOO = "http://openoffice.org/2009/office"
XLINK = "http://www.w3.org/1999/xlink"
MANIFEST = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
DROP = {
    (TEXT, "tracked-changes"): "revisions",
    (TABLE, "tracked-changes"): "revisions",
    (TEXT, "change"): None,
    (TEXT, "change-start"): None,
    (TEXT, "change-end"): None,
    (OFFICE, "annotation"): "comments",
    (OFFICE, "annotation-end"): None,
    (OFFICE, "event-listeners"): "javascript",
}
CHANGED = re.compile(rb"<\w+:(?:changed-region|cell-content-change)[\s>/]")
DROPPED_FILES = [
    ("meta.xml", "document_properties"),
    ("settings.xml", "printer"),
    ("Thumbnails/", "thumbnail"),
    ("manifest.rdf", "other"),
    ("META-INF/documentsignatures.xml", "author"),
    ("META-INF/macrosignatures.xml", "author"),
    ("Basic/", "macros"),
    ("Scripts/", "macros"),
    ("Configurations2/", None),
    ("layout-cache", None),
]


def sanitize_odf(src: BinaryIO, dst: BinaryIO, ctx: Context) -> Report:
    report = ctx.new_report()
    archive = Archive(src, ctx)
    try:
        _sanitize(archive, dst, ctx, report)
    finally:
        archive.close()
    return report


def _kept(name: str) -> bool:
    base = posixpath.basename(name)
    if name in ("content.xml", "styles.xml") or (
        name.startswith("Object ") and base in ("content.xml", "styles.xml")
    ):
        return True
    return name.startswith(("Pictures/", "ObjectReplacements/", "Media/")) or (
        name.startswith("Object ") and "/Pictures/" in name
    )


def _sanitize(archive: Archive, dst: BinaryIO, ctx: Context, report: Report) -> None:
    if "mimetype" not in archive or "content.xml" not in archive:
        raise Damaged("bad_structure", "OpenDocument without mimetype or content")
    mimetype = archive.read("mimetype").strip()
    if not mimetype.startswith(b"application/vnd.oasis.opendocument."):
        raise Damaged("bad_structure", "unexpected OpenDocument mimetype")
    if "META-INF/manifest.xml" in archive:  # refuses encrypted documents before parsing them
        _manifest(archive.read("META-INF/manifest.xml"), set(archive.names()), ctx)
    out: list[tuple[str, bytes]] = []
    for name in archive.names():
        if name in ("mimetype", "META-INF/manifest.xml") or name.endswith("/"):
            continue
        if not _kept(name):
            _report_dropped(name, archive, report)
            continue
        data = archive.read(name)
        cleaned: bytes | None
        if name.endswith(".xml"):
            report.add("revisions", len(CHANGED.findall(data)))
            cleaned = filter_xml(data, _rules(report), ctx.limits.max_xml_bytes)
        else:
            cleaned = clean_embedded(name, data, ctx, report)
        if cleaned is not None:
            out.append((name, cleaned))
    kept = {name for name, _ in out}
    manifest = b""
    if "META-INF/manifest.xml" in archive:
        manifest = _manifest(archive.read("META-INF/manifest.xml"), kept, ctx)
    writer = Writer(dst)
    writer.add("mimetype", mimetype, stored=True)
    if manifest:
        writer.add("META-INF/manifest.xml", manifest)
    for name, data in out:
        writer.add(name, data)
    writer.close()


def _report_dropped(name: str, archive: Archive, report: Report) -> None:
    base = posixpath.basename(name)
    if base == "meta.xml":
        data = archive.read(name)
        if b"creator" in data:
            report.add("author")
        if b"date" in data:
            report.add("creation_time")
        if b"generator" in data:
            report.add("software")
    for prefix, code in DROPPED_FILES:
        if name.startswith(prefix) or base == prefix:
            if code:
                report.add(code)
            return
    report.add("other")


def _rules(report: Report) -> Rules:
    def element(qname: QName, attrs: dict[QName, str]) -> str:
        if qname in DROP:
            code = DROP[qname]
            if code == "comments":
                report.add("comments")
            elif code == "javascript":
                report.add("javascript")
            return "drop"
        href = attrs.get((XLINK, "href"), "")
        if (
            href
            and qname[1] == "image"
            and (href.startswith(("/", "../", "file:")) or re.match(r"^[A-Za-z]:[\\/]", href))
        ):
            report.add("other")
            return "drop"  # a linked picture outside the package names a local path
        return "keep"

    def attribute(element: QName, qname: QName, value: str) -> bool:
        return qname[0] == OOO and qname[1] in ("rsid", "paragraph-rsid")

    return Rules(element, attribute)


def _manifest(data: bytes, kept: set[str], ctx: Context) -> bytes:
    directories = {posixpath.dirname(name) + "/" for name in kept}

    def element(qname: QName, attrs: dict[QName, str]) -> str:
        if qname == (MANIFEST, "encryption-data"):
            raise Unsupported("encrypted", "password-protected OpenDocument")
        if qname == (MANIFEST, "file-entry"):
            path = attrs.get((MANIFEST, "full-path"), "")
            if path != "/" and path not in kept and path not in directories:
                return "drop"
        return "keep"

    return filter_xml(data, Rules(element, lambda e, q, v: False), ctx.limits.max_xml_bytes)
