"""A streaming XML filter that keeps namespace prefixes exactly as they were.

Office formats need their prefixes untouched (``mc:Ignorable="w14 wp14"``
names prefixes, so ElementTree's renaming to ns0/ns1 breaks documents). The
filter parses with defusedxml's SAX parser (no DTDs, no entities, no external
references: billion-laughs and XXE fail at once) and writes the events it
keeps with XMLGenerator. Comments and processing instructions other than
``mso-application`` are dropped.

Rules work on (namespace URI, local name), resolved from the document's own
declarations, so a renamed prefix cannot hide an element.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from typing import Any
from xml.sax import SAXException
from xml.sax.handler import ContentHandler
from xml.sax.saxutils import XMLGenerator

import defusedxml.sax
from defusedxml import DefusedXmlException

from .limits import Damaged, LimitExceeded

QName = tuple[str, str]
# Decides what to do with an element: "keep", "drop" (with its subtree) or
# "unwrap" (drop the tag, keep the content).
ElementRule = Callable[[QName, dict[QName, str]], str]
# (element, attribute, value) -> True: drop it, False: keep it, a string: replace the value.
AttributeRule = Callable[[QName, QName, str], bool | str]


@dataclasses.dataclass
class Rules:
    element: ElementRule
    attribute: AttributeRule
    # Elements buffered until they end, then dropped if a descendant matched a
    # ``poison`` (parent, child) pair (a table row whose deletion was tracked).
    buffered: frozenset[QName] = frozenset()
    poison: frozenset[tuple[QName, QName]] = frozenset()
    counts: dict[str, int] = dataclasses.field(default_factory=dict)


class _Filter(ContentHandler):
    def __init__(self, rules: Rules, out: io.BytesIO) -> None:
        super().__init__()
        self.rules = rules
        self.out = XMLGenerator(out, encoding="utf-8", short_empty_elements=True)
        self.scopes: list[dict[str, str]] = [{"xml": "http://www.w3.org/XML/1998/namespace"}]
        self.skip = 0  # depth inside a dropped subtree
        self.stack: list[tuple[str, QName]] = []  # per open element: action, name
        self.pending_ns: list[dict[str, str]] = []  # declarations of unwrapped elements
        self.buffers: list[tuple[list[tuple[str, Any]], list[bool]]] = []

    # Event plumbing: straight to the writer, or into the innermost buffer.
    def _emit(self, kind: str, arg: Any) -> None:
        if self.buffers:
            self.buffers[-1][0].append((kind, arg))
        else:
            self._write(kind, arg)

    def _write(self, kind: str, arg: Any) -> None:
        if kind == "start":
            self.out.startElement(*arg)
        elif kind == "end":
            self.out.endElement(arg)
        elif kind == "text":
            self.out.characters(arg)
        elif kind == "pi":
            self.out.processingInstruction(*arg)

    def _resolve(self, qname: str, attribute: bool = False) -> QName:
        prefix, _, local = qname.rpartition(":")
        if not prefix and attribute:
            return ("", local)
        return (self.scopes[-1].get(prefix, ""), local)

    def startDocument(self) -> None:
        self.out.startDocument()

    def processingInstruction(self, target: str, data: str) -> None:
        if target == "mso-application" and not self.skip:
            self._emit("pi", (target, data))

    def startElement(self, name: str, attrs: Any) -> None:
        scope = dict(self.scopes[-1])
        declarations = {}
        for key, value in attrs.items():
            if key == "xmlns" or key.startswith("xmlns:"):
                scope[key[6:]] = value
                declarations[key] = value
        self.scopes.append(scope)
        if self.skip:
            self.skip += 1
            self.stack.append(("drop", ("", "")))
            return
        qname = self._resolve(name)
        resolved = {
            self._resolve(k, True): v
            for k, v in attrs.items()
            if not (k == "xmlns" or k.startswith("xmlns:"))
        }
        parent = self.stack[-1][1] if self.stack else ("", "")
        if self.buffers and (parent, qname) in self.rules.poison:
            self.buffers[-1][1][0] = True
        action = self.rules.element(qname, resolved)
        if action == "drop":
            self.skip = 1
            self.stack.append(("drop", qname))
            return
        if action == "unwrap":
            self.stack.append(("unwrap", qname))
            self.pending_ns.append(declarations)
            return
        kept = {}
        for key, value in attrs.items():
            verdict = (
                False
                if key.startswith("xmlns")
                else self.rules.attribute(qname, self._resolve(key, True), value)
            )
            if verdict is False:
                kept[key] = value
            elif isinstance(verdict, str):
                kept[key] = verdict
        for inherited in self.pending_ns:
            for key, value in inherited.items():
                kept.setdefault(key, value)
        self.pending_ns = [{} for _ in self.pending_ns]
        if qname in self.rules.buffered:
            self.buffers.append(([], [False]))
        self.stack.append(("keep", qname))
        self._emit("start", (name, kept))

    def endElement(self, name: str) -> None:
        self.scopes.pop()
        action, qname = self.stack.pop()
        if action == "drop":
            self.skip -= 1
            return
        if action == "unwrap":
            self.pending_ns.pop()
            return
        self._emit("end", name)
        if self.buffers and qname in self.rules.buffered:
            events, poisoned = self.buffers.pop()
            if poisoned[0]:
                self.rules.counts["revisions"] = self.rules.counts.get("revisions", 0) + 1
                return
            for event in events:
                self._emit(*event)

    def characters(self, content: str) -> None:
        if not self.skip:
            self._emit("text", content)

    def ignorableWhitespace(self, content: str) -> None:
        self.characters(content)


def filter_xml(data: bytes, rules: Rules, max_bytes: int) -> bytes:
    """Return ``data`` with the elements and attributes the rules reject removed."""
    if len(data) > max_bytes:
        raise LimitExceeded("too_large", "XML part over the size limit")
    out = io.BytesIO()
    handler = _Filter(rules, out)
    try:
        defusedxml.sax.parseString(
            data, handler, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise Damaged("xml_attack", "forbidden XML construct (DTD or entity)") from exc
    except SAXException as exc:
        raise Damaged("bad_xml", "XML does not parse") from exc
    if handler.stack:
        raise Damaged("bad_xml", "XML ends inside an element")
    return out.getvalue()


def check_xml(data: bytes, max_bytes: int) -> None:
    """Parse ``data`` safely and discard it: raises Damaged if it is not safe XML."""
    filter_xml(data, Rules(lambda q, a: "keep", lambda e, q, v: False), max_bytes)
