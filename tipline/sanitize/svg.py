"""SVG: remove what the editor that made it wrote about the file and its author; keep the drawing.

Removed: ``<metadata>`` (RDF, Dublin Core: author, title, licence, dates), any
RDF element wherever it is, every element and attribute in the namespaces of
the editors that made it (Inkscape, Sodipodi, Adobe Illustrator, Sketch...:
``sodipodi:docname``, ``inkscape:export-filename`` and the export's dpi,
``sodipodi:namedview`` with its window geometry), comments and processing
instructions, and what runs (``<script>``, ``on*`` event attributes,
``javascript:`` links). Kept: every element and attribute of SVG, XLink and
XML themselves.

The XML is read with defusedxml (no DTD, no entity, nothing external) and
written back with its prefixes unchanged (xmlfilter.py).
"""

from __future__ import annotations

from typing import BinaryIO

from .common import Context
from .limits import Damaged
from .report import Report
from .xmlfilter import QName, Rules, filter_xml

SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
XML = "http://www.w3.org/XML/1998/namespace"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
# The namespaces an SVG may keep; everything else is an editor's or a tool's.
KEPT_NAMESPACES = {SVG, XLINK, XML, ""}
EDITOR_CODES = {
    "http://www.inkscape.org/namespaces/inkscape": "software",
    "http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd": "software",
    "http://ns.adobe.com/AdobeIllustrator/10.0/": "software",
    "http://www.bohemiancoding.com/sketch/ns": "software",
}


def sanitize_svg(src: BinaryIO, dst: BinaryIO, ctx: Context) -> Report:
    report = ctx.new_report()
    data = src.read(ctx.limits.max_xml_bytes + 1)
    if b"<svg" not in data[:4096].lower():
        raise Damaged("bad_xml", "no svg element")
    dst.write(filter_xml(data, _rules(report), ctx.limits.max_xml_bytes))
    return report


def _rules(report: Report) -> Rules:
    seen_root = False

    def element(name: QName, attributes: dict[QName, str]) -> str:
        nonlocal seen_root
        namespace, local = name
        if not seen_root:
            seen_root = True
            if name != (SVG, "svg"):
                # Not an SVG drawing (another namespace): dropping its root would
                # store an empty file as "cleaned".
                raise Damaged("bad_structure", "the root element is not SVG's svg")
        if namespace == SVG and local == "metadata" or namespace == RDF:
            report.add("document_properties")
            return "drop"
        if namespace == SVG and local == "script":
            report.add("javascript")
            return "drop"
        if namespace not in KEPT_NAMESPACES:
            report.add(EDITOR_CODES.get(namespace, "private_data"))
            return "drop"
        return "keep"

    def attribute(element_name: QName, name: QName, value: str) -> bool:
        namespace, local = name
        if namespace not in KEPT_NAMESPACES:
            report.add(EDITOR_CODES.get(namespace, "private_data"))
            return True
        if namespace == "" and local.lower().startswith("on"):
            report.add("javascript")
            return True
        if local == "href" and value.strip().lower().startswith("javascript:"):
            report.add("javascript")
            return True
        return False

    return Rules(element, attribute)
