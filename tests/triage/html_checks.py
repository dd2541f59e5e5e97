"""Reading a page's HTML structure in tests: ids, labels and the form each element is in."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    form: int | None  # the index of the <form> it is in, None outside any


@dataclass
class PageStructure(HTMLParser):
    elements: list[Element] = field(default_factory=list)
    _form: int | None = None
    _forms: int = 0

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self._form, self._forms = self._forms, self._forms + 1
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}, self._form))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None

    def ids(self) -> list[str]:
        return [e.attrs["id"] for e in self.elements if "id" in e.attrs]

    def by_id(self, element_id: str) -> Element:
        (found,) = [e for e in self.elements if e.attrs.get("id") == element_id]
        return found

    def find(self, tag: str, **attrs: str) -> list[Element]:
        return [
            e
            for e in self.elements
            if e.tag == tag and all(e.attrs.get(k) == v for k, v in attrs.items())
        ]


def page_structure(html: str) -> PageStructure:
    parsed = PageStructure()
    parsed.feed(html)
    parsed.close()
    return parsed


def label_problems(page: PageStructure) -> list[str]:
    """Ids used twice, and labels whose ``for`` names no element, or one in another form."""
    ids = page.ids()
    problems = [
        f"id {i!r} is used {ids.count(i)} times" for i in sorted(set(ids)) if ids.count(i) > 1
    ]
    for label in page.find("label"):
        target = label.attrs.get("for")
        if target is None:
            continue
        matches = [e for e in page.elements if e.attrs.get("id") == target]
        if not matches:
            problems.append(f"label for={target!r} names no element")
        elif matches[0].form != label.form:
            problems.append(f"label for={target!r} names an element of another form")
    return problems
