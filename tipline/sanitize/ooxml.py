"""Office Open XML (docx, xlsx, pptx): rebuild the package from an allowlist.

The new package holds only the parts reachable from the package root through
relationships of allowed types (document body, styles, numbering, notes,
headers/footers, themes, pictures, charts, diagrams, sheets, slides ...).
[Content_Types].xml and every .rels file are rewritten to match, so nothing
points at a removed part.

Removed parts: core/app/custom properties (author, last editor, company,
dates, editing time, template), the thumbnail, comments and their people,
authors and extended/threaded comment parts, customXml data, printer settings,
the attached template's path, glossary, VBA, ActiveX, external links, data
connections, revision logs, tags, web extensions, and any part nothing links
to (orphans from earlier versions).

Inside the kept XML parts: tracked changes are accepted (deleted and moved-
away text is removed, insertions are kept as plain text, formatting-change
history and deleted table rows go) so the text reads as the document shows
it; comment anchors, revision session ids (w:rsid*), paragraph/text ids,
numbering session ids (w:nsid, w:tmpl), document ids, document variables,
mail-merge sources, author/date attributes, workbook absolute paths and
file-sharing user names are removed. Pictures and embedded documents are
cleaned by their own sanitizers (a docx inside a pptx is cleaned recursively).
"""

from __future__ import annotations

import posixpath
import re
from typing import BinaryIO
from xml.sax.saxutils import quoteattr

from .common import Context
from .limits import Damaged, Unsupported
from .report import Report
from .xmlfilter import QName, Rules, filter_xml
from .zipparts import Archive, Writer, clean_embedded, resolve

W = {
    "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "http://purl.oclc.org/ooxml/wordprocessingml/main",
}
R = {
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
}
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
W15 = "http://schemas.microsoft.com/office/word/2012/wordml"
KEEP_TYPES = {
    "officeDocument",
    "styles",
    "stylesWithEffects",
    "settings",
    "webSettings",
    "fontTable",
    "font",
    "numbering",
    "footnotes",
    "endnotes",
    "header",
    "footer",
    "theme",
    "themeOverride",
    "image",
    "hdphoto",
    "chart",
    "chartUserShapes",
    "diagramData",
    "diagramLayout",
    "diagramQuickStyle",
    "diagramColors",
    "diagramDrawing",
    "chartStyle",
    "chartColorStyle",
    "worksheet",
    "sharedStrings",
    "calcChain",
    "table",
    "drawing",
    "vmlDrawing",
    "pivotTable",
    "pivotCacheDefinition",
    "pivotCacheRecords",
    "chartsheet",
    "dialogsheet",
    "sheetMetadata",
    "slide",
    "slideLayout",
    "slideMaster",
    "notesSlide",
    "notesMaster",
    "handoutMaster",
    "presProps",
    "viewProps",
    "tableStyles",
    "video",
    "audio",
    "media",
    "package",
    "ctrlProp",
    "volatileDependencies",
    "tableSingleCells",
    "hyperlink",
}
DROP_TYPES = {
    "core-properties": "document_properties",
    "extended-properties": "document_properties",
    "custom-properties": "document_properties",
    "thumbnail": "thumbnail",
    "comments": "comments",
    "commentsExtended": "comments",
    "commentsIds": "comments",
    "commentsExtensible": "comments",
    "people": "author",
    "person": "author",
    "threadedComment": "comments",
    "commentAuthors": "author",
    "authors": "author",
    "customXml": "private_data",
    "customXmlProps": "private_data",
    "printerSettings": "printer",
    "attachedTemplate": "template",
    "glossaryDocument": "other",
    "vbaProject": "macros",
    "activeXControl": "macros",
    "externalLink": "other",
    "connections": "other",
    "queryTable": "other",
    "revisionHeaders": "revisions",
    "revisionLog": "revisions",
    "usernames": "author",
    "tags": "private_data",
    "webextension": "other",
    "webextensiontaskpanes": "other",
    "classificationlabels": "other",
    "oleObject": "embedded_files",
    "customProperty": "private_data",
    "keyMapCustomizations": "other",
    "slideUpdateInfo": "other",
    "revisionInfo": "revision_ids",
    "legacyDocTextInfo": "other",
    "ribbonExtensibility": "macros",
}
MACRO_TYPES = ("macroEnabled", "vbaProject")
SAFE_LINK = re.compile(r"^(https?|mailto):", re.IGNORECASE)
COMMENT_TAG = re.compile(rb"<(?:\w+:)?(?:comment|cm|threadedComment)[\s>/]")
W_DROP = {
    "del",
    "moveFrom",
    "rPrChange",
    "pPrChange",
    "sectPrChange",
    "tblPrChange",
    "trPrChange",
    "tcPrChange",
    "tblGridChange",
    "numberingChange",
    "commentRangeStart",
    "commentRangeEnd",
    "commentReference",
    "annotationRef",
    "moveFromRangeStart",
    "moveFromRangeEnd",
    "moveToRangeStart",
    "moveToRangeEnd",
    "customXmlDelRangeStart",
    "customXmlDelRangeEnd",
    "customXmlInsRangeStart",
    "customXmlInsRangeEnd",
    "customXmlMoveFromRangeStart",
    "customXmlMoveFromRangeEnd",
    "customXmlMoveToRangeStart",
    "customXmlMoveToRangeEnd",
    "rsids",
    "attachedTemplate",
    "docVars",
    "mailMerge",
    "nsid",
    "tmpl",
    "cellDel",
    "saveThroughXslt",
    "trackRevisions",
}
OTHER_DROP = {
    (W14, "docId"),
    (W15, "docId"),
    ("http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac", "absPath"),
    ("http://schemas.microsoft.com/office/spreadsheetml/2014/revision", "revisionPtr"),
    ("http://schemas.openxmlformats.org/spreadsheetml/2006/main", "fileSharing"),
    ("http://schemas.microsoft.com/office/powerpoint/2010/main", "creationId"),
    ("http://schemas.openxmlformats.org/presentationml/2006/main", "custDataLst"),
}
VML_OFFICE = "urn:schemas-microsoft-com:office:office"
HYPERLINKS = {(w, "hyperlink") for w in W}
ATTR_NAMESPACES_DROPPED = {
    "http://schemas.microsoft.com/office/spreadsheetml/2014/revision",
    "http://schemas.microsoft.com/office/spreadsheetml/2016/revision2",
    "http://schemas.microsoft.com/office/spreadsheetml/2016/revision3",
}


def sanitize_ooxml(src: BinaryIO, dst: BinaryIO, ctx: Context) -> Report:
    report = ctx.new_report()
    archive = Archive(src, ctx)
    try:
        package = _Package(archive, ctx, report)
        package.walk()
        package.write(dst)
    finally:
        archive.close()
    return report


class _Package:
    def __init__(self, archive: Archive, ctx: Context, report: Report) -> None:
        self.archive, self.ctx, self.report = archive, ctx, report
        if "[Content_Types].xml" not in archive:
            raise Damaged("bad_structure", "no [Content_Types].xml")
        self.defaults, self.overrides = _content_types(archive.read("[Content_Types].xml"), ctx)
        if any(t for t in self.overrides.values() if any(m in t for m in MACRO_TYPES)):
            raise Unsupported("unsupported_variant", "macro-enabled office document")
        self.kept: list[str] = []
        # rels part -> (owner part, kept relationships with their resolved target)
        self.rels: dict[str, tuple[str, list[tuple[str, str, str, bool, str | None]]]] = {}
        self.dropped_ids: dict[str, set[str]] = {}  # part -> relationship ids removed
        self.dropped_parts: set[str] = set()

    def walk(self) -> None:
        queue, seen = [""], {""}
        while queue:
            part = queue.pop(0)
            base = posixpath.dirname(part)
            rels_name = posixpath.join(base, "_rels", posixpath.basename(part) + ".rels")
            if rels_name not in self.archive:
                continue
            kept_rels: list[tuple[str, str, str, bool, str | None]] = []
            dropped: set[str] = set()
            for rid, rtype, target, external in _relationships(
                self.archive.read(rels_name), self.ctx
            ):
                kind = rtype.rsplit("/", 1)[-1]
                if external:
                    if kind == "hyperlink" and SAFE_LINK.match(target):
                        kept_rels.append((rid, rtype, target, True, None))
                    else:
                        dropped.add(rid)
                        self.report.add(DROP_TYPES.get(kind, "other"))
                    continue
                name = resolve(base, target)
                if kind in DROP_TYPES or kind not in KEEP_TYPES:
                    dropped.add(rid)
                    if name is not None and name in self.archive and name not in self.dropped_parts:
                        self.dropped_parts.add(name)
                        self._report_dropped(kind, name)
                    continue
                if name is None or name not in self.archive:
                    dropped.add(rid)  # dangling: points at nothing
                    continue
                kept_rels.append((rid, rtype, target, False, name))
                if name not in seen:
                    seen.add(name)
                    queue.append(name)
            self.rels[rels_name] = (part, kept_rels)
            self.dropped_ids[part] = dropped
        self.kept = [name for name in self.archive.names() if name in seen]
        if not any(".main+xml" in self._content_type(name) for name in self.kept):
            raise Damaged("bad_structure", "no main document part")
        known = seen | self.dropped_parts | set(self.rels) | {"[Content_Types].xml"}
        for name in self.archive.names():
            if name not in known and not name.endswith("/") and not name.endswith(".rels"):
                self.report.add("other")  # an orphan part: nothing links to it

    def _report_dropped(self, kind: str, name: str) -> None:
        code = DROP_TYPES.get(kind, "other")
        if code == "comments":
            if kind == "comments":
                data = self.archive.read(name)
                self.report.add("comments", max(1, len(COMMENT_TAG.findall(data))))
            return
        if kind == "core-properties":
            data = self.archive.read(name)
            if b"creator" in data or b"lastModifiedBy" in data:
                self.report.add("author")
            if b"created" in data or b"modified" in data:
                self.report.add("creation_time")
        if kind == "extended-properties":
            self.report.add("software")
        self.report.add(code)

    def _content_type(self, name: str) -> str:
        return self.overrides.get("/" + name) or self.defaults.get(
            posixpath.splitext(name)[1].lstrip(".").lower(), ""
        )

    def write(self, dst: BinaryIO) -> None:
        # Pictures and embedded files first: one that cannot be cleaned is
        # dropped, and so are the relationships (and XML elements) pointing at it.
        cleaned: dict[str, bytes] = {}
        for name in self.kept:
            if not self._is_xml(name):
                data = clean_embedded(name, self.archive.read(name), self.ctx, self.report)
                if data is not None:
                    cleaned[name] = data
        gone = {name for name in self.kept if not self._is_xml(name)} - set(cleaned)
        rels_out: dict[str, bytes] = {}
        for rels_name, (owner, rels) in self.rels.items():
            for rid, *_rest, target_name in rels:
                if target_name in gone:
                    self.dropped_ids.setdefault(owner, set()).add(rid)
            rels_out[rels_name] = _rels_xml([r[:4] for r in rels if r[4] not in gone])
        for name in self.kept:
            if self._is_xml(name):
                cleaned[name] = self._clean_xml(name)
        writer = Writer(dst)
        writer.add(
            "[Content_Types].xml",
            _content_types_xml(
                self.defaults,
                {
                    part: ctype
                    for part, ctype in self.overrides.items()
                    if part.lstrip("/") in cleaned
                },
            ),
        )
        for rels_name, xml in rels_out.items():
            owner = self.rels[rels_name][0]
            if owner == "" or owner in cleaned:
                writer.add(rels_name, xml)
        for name in self.kept:
            if name in cleaned:
                writer.add(name, cleaned[name])
        writer.close()

    def _is_xml(self, name: str) -> bool:
        return self._content_type(name).endswith("xml") or name.endswith((".xml", ".vml"))

    def _clean_xml(self, name: str) -> bytes:
        data = self.archive.read(name)
        if not data.strip():
            return data  # an empty part (Word repairs it): nothing to clean
        rules = _rules(self.dropped_ids.get(name, set()))
        cleaned = filter_xml(data, rules, self.ctx.limits.max_xml_bytes)
        self.report.add("revisions", rules.counts.get("revisions", 0))
        self.report.add("revision_ids", min(rules.counts.get("rsid", 0), 1))
        return cleaned


def _rules(dropped_ids: set[str]) -> Rules:
    counts: dict[str, int] = {}

    def element(qname: QName, attrs: dict[QName, str]) -> str:
        uri, local = qname
        if uri in W:
            if local in ("ins", "moveTo"):
                counts["revisions"] = counts.get("revisions", 0) + 1
                return "unwrap"
            if local in W_DROP:
                if local in ("del", "moveFrom"):
                    counts["revisions"] = counts.get("revisions", 0) + 1
                return "drop"
        if qname in OTHER_DROP:
            return "drop"
        if dropped_ids and any(u in R and v in dropped_ids for (u, _), v in attrs.items()):
            if qname in HYPERLINKS:
                return "unwrap"  # a link to a local file: keep its text, lose the target
            return "drop"  # points at a part we removed (template, OLE object, comments ...)
        return "keep"

    def attribute(element: QName, qname: QName, value: str) -> bool | str:
        uri, local = qname
        if element[1] in ("docPr", "cNvPr"):  # pictures: Word stores the file name here
            if local in ("descr", "title"):
                return True
            if local == "name":
                return "Picture"
        if qname == (VML_OFFICE, "title"):  # v:imagedata o:title: the picture's file name
            return True
        if uri in W and (local.startswith("rsid") or local in ("author", "date", "initials")):
            if local.startswith("rsid"):
                counts["rsid"] = 1
            return True
        if uri == W14 and local in ("paraId", "textId"):
            return True
        return uri in ATTR_NAMESPACES_DROPPED

    tr = {(w, "tr") for w in W}
    poison = {((w, "trPr"), (w, "del")) for w in W}
    return Rules(element, attribute, frozenset(tr), frozenset(poison), counts)


def _content_types(data: bytes, ctx: Context) -> tuple[dict[str, str], dict[str, str]]:
    defaults: dict[str, str] = {}
    overrides: dict[str, str] = {}

    def element(qname: QName, attrs: dict[QName, str]) -> str:
        if qname[1] == "Default":
            defaults[attrs.get(("", "Extension"), "").lower()] = attrs.get(("", "ContentType"), "")
        elif qname[1] == "Override":
            if ("", "PartName") not in attrs or ("", "ContentType") not in attrs:
                raise Damaged("bad_structure", "malformed content type override")
            overrides[attrs[("", "PartName")]] = attrs[("", "ContentType")]
        return "keep"

    filter_xml(data, Rules(element, lambda e, q, v: False), ctx.limits.max_xml_bytes)
    return defaults, overrides


def _relationships(data: bytes, ctx: Context) -> list[tuple[str, str, str, bool]]:
    found: list[tuple[str, str, str, bool]] = []

    def element(qname: QName, attrs: dict[QName, str]) -> str:
        if qname[1] == "Relationship":
            found.append(
                (
                    attrs.get(("", "Id"), ""),
                    attrs.get(("", "Type"), ""),
                    attrs.get(("", "Target"), ""),
                    attrs.get(("", "TargetMode"), "") == "External",
                )
            )
        return "keep"

    filter_xml(data, Rules(element, lambda e, q, v: False), ctx.limits.max_xml_bytes)
    return found


def _rels_xml(rels: list[tuple[str, str, str, bool]]) -> bytes:
    items = "".join(
        f"<Relationship Id={quoteattr(rid)} Type={quoteattr(rtype)} Target={quoteattr(target)}"
        + (' TargetMode="External"' if external else "")
        + "/>"
        for rid, rtype, target, external in rels
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns='
        '"http://schemas.openxmlformats.org/package/2006/relationships">'
        f"{items}</Relationships>"
    ).encode()


def _content_types_xml(defaults: dict[str, str], overrides: dict[str, str]) -> bytes:
    items = "".join(
        f"<Default Extension={quoteattr(ext)} ContentType={quoteattr(ctype)}/>"
        for ext, ctype in defaults.items()
        if ext
    )
    items += "".join(
        f"<Override PartName={quoteattr(part)} ContentType={quoteattr(ctype)}/>"
        for part, ctype in overrides.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns='
        '"http://schemas.openxmlformats.org/package/2006/content-types">'
        f"{items}</Types>"
    ).encode()
