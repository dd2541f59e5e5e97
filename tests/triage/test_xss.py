"""Hostile text from a source (or a careless colleague) is shown inert on every staff page.

A source controls the note, the links and the file names; staff control tag
names and internal notes. Each place gets the same payloads, and every page
that shows them is parsed: no script element, no event-handler attribute, no
link or resource pointing at what a source wrote. Every staff response also
carries a CSP without 'unsafe-inline', and file responses a sandbox.
"""

from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.html import escape

from tests.route_samples import route_filled
from tests.triage.helpers import UNSANITIZED_BYTES, jpeg_bytes, send_tip, signed_in_client
from tipline.crypto import EncryptingWriter, encrypt_bytes, new_tip_key
from tipline.intake.services import tip_create
from tipline.keyring import tip_key_unwrap
from tipline.models import Attachment, RecipientKey, Tip
from tipline.sealed import Part, attachment_name_open, attachment_object_id
from tipline.storage import new_blob_name, open_blob_for_write

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
JS = "javascript:alert(1)"
PAYLOADS = (SCRIPT, IMG, JS)
HOSTILE_TEXT = f"{SCRIPT} {IMG} {JS}"

HOSTILE_LINKS = [
    JS,
    "JaVaScRiPt:alert(2)",
    f"https://example.org/a{IMG}",
    "data:text/html,<script>alert(3)</script>",
    "https://example.org/plain",
]
# Names a source's browser could send (no "/": browsers send a base name).
FORM_FILE_NAMES = [f"{IMG}.bin", f"{JS}.jpg"]
# Names as hostile as the stored bytes allow, written without the form.
STORED_FILE_NAMES = [
    'evil".bin',
    "a\r\nSet-Cookie: stolen=1\r\n.bin",
    "../../etc/passwd",
    "..\\..\\Windows\\system32\\evil.exe",
    "/absolute/path.txt",
    "C:\\boot.ini",
    f"{SCRIPT}.html",
    "\u202egpj.exe",
    'ñandú ";\r\n.pdf',
    "\x00\x07nul.txt",
]


# --- An HTML inspector -------------------------------------------------------------------

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "srcset", "xlink:href"}


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))

    handle_startendtag = handle_starttag


def elements(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return parser.elements


def assert_inert(html: str, *, links: list[str] = ()) -> None:
    """Nothing in the page can run or fetch what a source wrote."""
    for tag, attrs in elements(html):
        assert tag not in {"script", "iframe", "object", "embed", "base", "svg"}, (tag, attrs)
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            if name in URL_ATTRIBUTES:
                lowered = re.sub(r"\s", "", value).lower()
                assert not lowered.startswith(("javascript:", "data:", "vbscript:")), (tag, value)
                assert "example.org" not in lowered, (tag, value)
                assert value != "x", (tag, value)
            if name in {"href", "src"}:
                for link in links:
                    assert link not in value, (tag, value)
        if tag == "img":
            # The only pictures are our own thumbnails.
            assert attrs.get("src", "").startswith("/staff/tips/"), attrs
    assert SCRIPT not in html
    assert "<img src=x" not in html


def assert_shown_escaped(html: str, text: str) -> None:
    """The text is on the page (so the test is not vacuous), escaped."""
    assert escape(text) in html, f"{text!r} is not shown escaped"


# --- Tips full of payloads -----------------------------------------------------------------


@pytest.fixture
def reader(open_tipline, admin) -> Client:
    """An admin (to see the audit page too) who can read every tip below."""
    return signed_in_client(admin)


@pytest.fixture
def hostile_tip(reader) -> Tip:
    tip = send_tip(
        note=HOSTILE_TEXT + "\nsecond line " + HOSTILE_TEXT,
        links="\n".join(HOSTILE_LINKS),
        files=[(FORM_FILE_NAMES[0], UNSANITIZED_BYTES), (FORM_FILE_NAMES[1], jpeg_bytes())],
    )
    reader.post(f"/staff/tips/{tip.reference}/tags/", {"tags": f"{SCRIPT}, {IMG}, {JS}"})
    reader.post(f"/staff/tips/{tip.reference}/notes/", {"body": HOSTILE_TEXT})
    assert tip.tags.count() == 3 and tip.editor_notes.count() == 1
    return tip


def test_the_form_kept_the_hostile_file_names(hostile_tip, open_tipline):
    # Otherwise the page checks below would prove nothing about file names.
    tip_key = tip_key_unwrap(
        tip=hostile_tip, recipient=open_tipline.recipient, private_key=open_tipline.private_key
    )
    names = [attachment_name_open(a, tip_key=tip_key) for a in hostile_tip.attachments.all()]
    assert names == FORM_FILE_NAMES


def test_tip_page_shows_everything_inert(hostile_tip, reader):
    response = reader.get(f"/staff/tips/{hostile_tip.reference}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert_inert(html, links=HOSTILE_LINKS)
    for payload in PAYLOADS:
        assert_shown_escaped(html, payload)  # note, tags, internal note
    for link in HOSTILE_LINKS:
        assert_shown_escaped(html, link)
        assert f'href="{escape(link)}"' not in html
    for name in FORM_FILE_NAMES:
        assert_shown_escaped(html, name)
    # Each tag is in the tags field's value, escaped inside the attribute.
    [tags_input] = [a for t, a in elements(html) if t == "input" and a.get("name") == "tags"]
    assert {name.strip() for name in tags_input["value"].split(",")} == set(PAYLOADS)


def test_inbox_shows_everything_inert(hostile_tip, reader):
    response = reader.get("/staff/")
    assert response.status_code == 200
    html = response.content.decode()
    assert_inert(html, links=HOSTILE_LINKS)
    preview = re.search(r'<td class="preview">(.*?)</td>', html, flags=re.S).group(1)
    assert escape(SCRIPT) in preview and escape(IMG) in preview
    for tag in PAYLOADS:
        assert f'<span class="tag">{escape(tag)}</span>' in html
    # The tag filter lists the hostile tag names as option text, escaped.
    options = [a for t, a in elements(html) if t == "option"]
    assert options  # the parser saw the select
    assert escape(IMG) in html


def test_inbox_with_hostile_filter_values_is_inert(hostile_tip, reader):
    for query in ({"status": IMG}, {"received_from": SCRIPT}, {"assignee": JS}, {"page": IMG}):
        response = reader.get("/staff/", query)
        assert response.status_code in {200, 400}
        assert_inert(response.content.decode(), links=HOSTILE_LINKS)


def test_the_warning_page_shows_the_hostile_name_inert(hostile_tip, reader):
    response = reader.get(f"/staff/tips/{hostile_tip.reference}/files/1/")
    assert response.status_code == 200
    assert response.streaming is False
    html = response.content.decode()
    assert_inert(html, links=HOSTILE_LINKS)
    # The page names the file by its file-system-safe name: the payload is shown, defused.
    assert "img src=x onerror=alert(1)" in html
    assert "<img src=x" not in html


def test_the_audit_page_shows_tag_names_inert(hostile_tip, reader):
    response = reader.get("/staff/audit/")
    assert response.status_code == 200
    html = response.content.decode()
    assert_inert(html)
    assert HOSTILE_TEXT not in html  # the note itself is never in the audit log


# --- Content-Disposition of hostile names -------------------------------------------------------

# A quoted name with nothing to escape, or an RFC 5987 encoded one: nothing else.
DISPOSITION = re.compile(
    r"""^attachment;\ (?:
        filename="(?P<quoted>[^"\\\r\n]*)"
        | filename\*=utf-8''(?P<ext>[A-Za-z0-9%._~!$&'()*+,;=:@-]*)
    )$""",
    re.X,
)


def _stored_file(tip: Tip, tip_key: bytes, name: str, position: int) -> None:
    att = Attachment(
        tip=tip,
        position=position,
        received_size=5,
        stored_size=5,
        mime_type="application/octet-stream",
        state=Attachment.State.DONE,
        sanitize_status="not_sanitized",
        clean_blob=new_blob_name("clean"),
    )
    att.name_sealed = encrypt_bytes(
        name.encode("utf-8"), tip_key=tip_key, object_id=attachment_object_id(att, Part.NAME)
    )
    with (
        open_blob_for_write(att.clean_blob) as sink,
        EncryptingWriter(
            sink, tip_key=tip_key, object_id=attachment_object_id(att, Part.CLEAN)
        ) as writer,
    ):
        writer.write(b"hello")
    att.save()


@pytest.fixture
def named_files(editor) -> Tip:
    tip_key = new_tip_key()
    tip = tip_create(
        tip_key_id=uuid.uuid4(),
        tip_key=tip_key,
        note="",
        links=[],
        uploads=[],
        arrived_in_flood=False,
    )
    for position, name in enumerate(STORED_FILE_NAMES):
        _stored_file(tip, tip_key, name, position)
    Tip.objects.filter(pk=tip.pk).update(file_count=len(STORED_FILE_NAMES))
    return tip


@pytest.mark.parametrize("index", range(len(STORED_FILE_NAMES)))
def test_content_disposition_of_a_hostile_name_is_safe(named_files, editor_client, index):
    url = f"/staff/tips/{named_files.reference}/files/{index + 1}/"
    response = editor_client.get(url, {"confirm": "1"})
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"hello"
    header = response["Content-Disposition"]
    assert "\r" not in header and "\n" not in header
    match = DISPOSITION.match(header)
    assert match, header
    name = match.group("quoted") if match.group("quoted") is not None else unquote(match["ext"])
    assert name, header
    assert "/" not in name and "\\" not in name
    assert not name.startswith(".")
    assert not any(ord(char) < 0x20 or char in "\u202e\u202d\u200f" for char in name), name
    # No header was split off the name.
    assert "stolen" not in response.cookies
    assert all("\r" not in value and "\n" not in value for _key, value in response.items())


def test_a_renamed_exe_cannot_pass_for_a_jpeg(named_files, editor_client):
    index = STORED_FILE_NAMES.index("\u202egpj.exe")
    url = f"/staff/tips/{named_files.reference}/files/{index + 1}/"
    header = editor_client.get(url, {"confirm": "1"})["Content-Disposition"]
    assert header.endswith('.exe"') or header.endswith(".exe")


def test_tip_page_and_warnings_with_hostile_names_are_inert(named_files, editor_client):
    html = editor_client.get(f"/staff/tips/{named_files.reference}/").content.decode()
    assert_inert(html)
    assert escape(f"{SCRIPT}.html") in html
    for number in range(1, len(STORED_FILE_NAMES) + 1):
        response = editor_client.get(f"/staff/tips/{named_files.reference}/files/{number}/")
        assert response.status_code == 200
        assert_inert(response.content.decode())


# --- CSP on every staff page ---------------------------------------------------------------


def _staff_routes() -> list[tuple[str, str]]:
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace == "staff":
            routes = []
            for pattern in entry.url_patterns:
                assert isinstance(pattern, URLPattern)
                routes.append((pattern.name, str(pattern.pattern)))
            return routes
    raise AssertionError("no staff namespace")


def _fill(route: str, values: dict[str, str]) -> str:
    return "/staff/" + route_filled(route, values)


def assert_page_csp(response) -> None:
    csp = response.get("Content-Security-Policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    assert directives.get("default-src") == ["'none'"], csp
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, csp
    for source in ("script-src", "style-src"):
        assert "*" not in directives.get(source, []), csp


def test_every_staff_response_carries_a_strict_csp(hostile_tip, reader, admin, editor):
    editor_key = RecipientKey.objects.get(user=editor.user, kind="editor")
    values = {
        "<str:reference>": hostile_tip.reference,
        "<int:number>": "2",
        "<int:recipient_id>": str(editor_key.pk),
        "<int:user_id>": str(editor.user.pk),
    }
    checked = 0
    for name, route in _staff_routes():
        if name == "logout":
            continue  # POST-only, and we want to stay signed in
        url = _fill(route, values)
        response = reader.get(url)
        assert response.status_code != 500, url
        assert_page_csp(response)
        checked += 1
    assert checked >= 15
    # Pages with what a source wrote, and the ones a stranger reaches.
    for url in (f"/staff/tips/{hostile_tip.reference}/", "/staff/", "/staff/files-nowhere/"):
        assert_page_csp(reader.get(url))
    assert_page_csp(Client().get("/staff/login/"))
    assert_page_csp(Client().get("/staff/"))
    assert_page_csp(reader.post("/staff/"))  # 405


def test_file_responses_are_sandboxed(hostile_tip, reader):
    ref = hostile_tip.reference
    for url in (
        f"/staff/tips/{ref}/files/1/?confirm=1",
        f"/staff/tips/{ref}/files/2/",
        f"/staff/tips/{ref}/files/2/preview/",
        f"/staff/tips/{ref}/files/2/thumbnail/",
    ):
        response = reader.get(url)
        if response.status_code == 404 and url.endswith("/thumbnail/"):
            continue  # thumbnails are checked in test_files.py
        assert response.status_code == 200, url
        csp = response["Content-Security-Policy"]
        assert "sandbox" in [part.strip() for part in csp.split(";")], csp
        assert "default-src 'none'" in csp
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Type"] in {"application/octet-stream", "image/jpeg"}
