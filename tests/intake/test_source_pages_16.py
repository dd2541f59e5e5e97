"""Issue 16, the source's side: what a person trips over on the source pages.

A refused form puts its error first; the landing page says which kinds of file
are cleaned and the confirmation warns, above the list, about a file that was
not; the send address answers a GET or HEAD; every ``aria-describedby`` names
an element that exists; field borders and the focus ring reach 3:1; and the
wording says only what is true.
"""

from __future__ import annotations

import ast
import io
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client

from tests import contrast
from tests.intake.helpers import submit_tip
from tipline.intake import file_kinds
from tipline.intake import services as intake_services
from tipline.report_text import describe
from tipline.sanitize import Report, SanitizeStatus, handler_for

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TITLE = re.compile(r"<title>(.*?)</title>", re.S)
FILES_AGAIN = {
    "es": "el navegador no conserva los archivos",
    "en": "the browser does not keep the files",
}


class Page(HTMLParser):
    """The ids and the ``aria-describedby`` references of a page, and where tags start."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.described_by: list[tuple[str, list[str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"] or "")
        if values.get("aria-describedby"):
            self.described_by.append((tag, (values["aria-describedby"] or "").split()))


def body_of(response) -> str:
    return response.content.decode()


def title_of(body: str) -> str:
    match = TITLE.search(body)
    assert match, "the page has no title"
    return match.group(1).strip()


def position(body: str, marker: str) -> int:
    at = body.find(marker)
    assert at >= 0, f"{marker!r} is not in the page"
    return at


# --- 1. A refused form: the error first, focusable, and the title says so -----------------------


def refuse_empty(client: Client, settings) -> object:
    return submit_tip(client, note="   ")


def refuse_note_too_long(client: Client, settings) -> object:
    settings.TIPLINE_MAX_NOTE_CHARS = 10
    return submit_tip(client, note="x" * 11)


def refuse_expired_form(client: Client, settings) -> object:
    return submit_tip(client, note="mi nota", form_token="")


def refuse_storage_full(client: Client, settings) -> object:
    settings.TIPLINE_STORAGE_RESERVE_MB = 10**9
    return submit_tip(client, note="mi nota", files=[("a.jpg", b"\xff\xd8\xff" + b"a" * 100)])


def refuse_too_many_files(client: Client, settings) -> object:
    settings.TIPLINE_MAX_FILES = 1
    return submit_tip(client, files=[("a.txt", b"a"), ("b.txt", b"b")])


def refuse_broken_upload(client: Client, settings) -> object:
    return client.generic(
        "POST",
        "/es/send/",
        b"--BOUNDARY\r\nthis is not a part",
        content_type="multipart/form-data; boundary=BOUNDARY",
    )


REFUSALS = {
    "empty": (refuse_empty, 400),
    "note too long": (refuse_note_too_long, 400),
    "expired form": (refuse_expired_form, 400),
    "storage full": (refuse_storage_full, 507),
    "too many files": (refuse_too_many_files, 413),
    "broken upload": (refuse_broken_upload, 400),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_refused_form_opens_with_its_error_summary(
    client: Client, open_tipline, settings, case: str
) -> None:
    refuse, status = REFUSALS[case]
    response = refuse(client, settings)
    assert response.status_code == status
    body = body_of(response)
    summary = position(body, 'id="error-summary"')
    # First in <main>: before the headline, the intro and every field of the form.
    assert position(body, "<main") < summary
    assert summary < position(body, "<h1")
    assert summary < position(body, 'class="intro"')
    assert summary < position(body, "<textarea")
    assert summary < position(body, 'type="file"')
    tag = body[body.rfind("<", 0, summary) : body.find(">", summary)]
    assert 'tabindex="-1"' in tag and 'role="alert"' in tag
    assert title_of(body).startswith("Error: ")


def test_the_summary_names_the_field_and_links_to_it(
    client: Client, open_tipline, settings
) -> None:
    settings.TIPLINE_MAX_NOTE_CHARS = 10
    body = body_of(submit_tip(client, note="x" * 11))
    summary = body[position(body, 'id="error-summary"') : position(body, "<h1")]
    assert 'href="#id_note"' in summary and "demasiado larga" in summary


def test_a_refused_form_keeps_the_intro_short(client: Client, open_tipline) -> None:
    body = body_of(submit_tip(client, note=""))
    assert 'class="lead"' not in body and 'class="cards"' not in body
    # A first visit still has them.
    first = body_of(client.get("/es/"))
    assert 'class="lead"' in first and 'class="cards"' in first


@pytest.mark.parametrize(("lang", "name"), [("es", "Error: "), ("en", "Error: ")])
def test_the_title_says_error_in_each_language(client: Client, open_tipline, lang, name) -> None:
    plain = title_of(body_of(client.get(f"/{lang}/")))
    refused = title_of(body_of(submit_tip(client, note="", url=f"/{lang}/send/")))
    assert not plain.startswith("Error")
    assert refused == name + plain


def test_a_page_without_error_has_no_summary(client: Client, open_tipline) -> None:
    for url in ("/es/", "/en/", "/es/come-back/"):
        body = body_of(client.get(url))
        assert 'id="error-summary"' not in body and not title_of(body).startswith("Error")


def test_a_wrong_passphrase_opens_with_its_error_summary(client: Client, open_tipline) -> None:
    response = client.post("/en/come-back/", {"passphrase": "not a real passphrase at all"})
    assert response.status_code == 400
    body = body_of(response)
    assert position(body, 'id="error-summary"') < position(body, "<h1")
    assert position(body, 'id="error-summary"') < position(body, "<textarea")
    assert title_of(body).startswith("Error: ")
    # With scripts on, the page's one script focuses it.
    assert re.search(r'<script src="/static/upload(\.\w+)?\.js" defer></script>', body)


def test_a_refused_message_opens_the_conversation_with_its_error_summary(
    open_tipline, memory_cache
) -> None:
    from tests.conversation.helpers import come_back, send_tip_for_passphrase

    # memory_cache: the visit lives in the cache (tests/settings.py's dummy one forgets it).
    client = come_back(send_tip_for_passphrase(language="en"), language="en")
    response = client.post("/en/conversation/", {"message": "x" * 20_001})
    assert response.status_code == 400
    body = body_of(response)
    assert position(body, 'id="error-summary"') < position(body, "<h1")
    assert title_of(body).startswith("Error: ")
    assert_descriptions_exist(body)  # the message's error has the id its field names


def test_the_script_focuses_the_summary_before_anything_else() -> None:
    script = (ROOT / "static" / "upload.js").read_text()
    focus = position(script, 'getElementById("error-summary")')
    # Before the early return of a page without an upload form (the come-back page).
    assert focus < position(script, "if (!form || !panel")
    assert ".focus()" in script[focus : focus + 200]


# --- 2. Which kinds of file are cleaned; a warning for one that was not --------------------------


def sniffable_types() -> set[str]:
    """Every type the sniffer can name: the first argument of each ``FileKind(...)`` in its source."""
    tree = ast.parse((ROOT / "tipline" / "sanitize" / "sniff.py").read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", "") == "FileKind"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }


def test_every_type_a_cleaner_takes_has_a_name_for_the_landing_page() -> None:
    cleaned = {mime for mime in sniffable_types() if handler_for(mime) is not None}
    named = {mime for _group, mime, _name in file_kinds.KINDS}
    assert cleaned, "the sniffer's source was not read"
    assert cleaned - named == set(), "a cleaned type the landing page does not name"
    assert named - cleaned == set(), "a named type no cleaner takes (or the sniffer never names)"


@pytest.mark.parametrize("lang", ["es", "en"])
def test_the_landing_page_lists_every_kind_that_is_cleaned(
    client: Client, open_tipline, lang
) -> None:
    body = body_of(client.get(f"/{lang}/"))
    listed = body[position(body, 'id="id_files_cleaned"') :]
    for group in file_kinds.cleaned_kinds():
        for name in group.names:
            assert f" {name}" in listed, name
    for name in ("JPEG", "HEIC", "MP4", "MP3", "PDF", "Word (.docx)", "OpenDocument"):
        assert name in listed
    assert 'aria-describedby="id_files_helptext id_files_cleaned"' in body


@pytest.mark.parametrize(
    ("lang", "promise"),
    [("es", "de cada archivo"), ("es", "de tus archivos"), ("en", "every file")],
)
def test_the_landing_page_promises_no_cleaning_of_every_file(
    client: Client, open_tipline, lang, promise
) -> None:
    body = body_of(client.get(f"/{lang}/"))
    assert promise not in body
    assert "Hidden information in your files" not in body


def test_a_kind_whose_cleaner_goes_away_leaves_the_list(monkeypatch) -> None:
    monkeypatch.setattr(
        file_kinds,
        "handler_for",
        lambda mime: None if mime == "application/pdf" else handler_for(mime),
    )
    file_kinds._cleaned_names.cache_clear()
    try:
        names = [name for group in file_kinds.cleaned_kinds() for name in group.names]
    finally:
        file_kinds._cleaned_names.cache_clear()
    assert "PDF" not in names and "JPEG" in names


def a_program() -> bytes:
    """The start of a Windows program: no type the tip line cleans."""
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 700 + b"PE\x00\x00"


def an_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes/contacts.txt", "who knows what")
    return buffer.getvalue() + b"\x00" * 3  # a size of its own, to find its line


def a_photo() -> bytes:
    from tests.sanitize._support import CORPUS

    return (CORPUS / "exif-samples/jpg/gps/DSCN0010.jpg").read_bytes()


def file_items(body: str) -> list[str]:
    """The confirmation's list items, one per file (its report lines included)."""
    listing = body[position(body, 'class="file-list"') :]
    listing = listing[: listing.find("</ul>\n  <p>")]
    return re.split(r"\n      <li>", listing)[1:]


@pytest.mark.django_db(transaction=True)  # real commits: the in-process pipeline cleans first
def test_a_file_that_could_not_be_cleaned_is_warned_about_above_the_list(
    client: Client, open_tipline
) -> None:
    files = [("setup.exe", a_program()), ("fotos.zip", an_archive()), ("foto.jpg", a_photo())]
    response = submit_tip(client, files=files)
    assert response.status_code == 200
    body = body_of(response)
    warning = position(body, 'class="kept-warning"')
    assert warning < position(body, 'class="file-list"')
    assert "No se pudieron limpiar 2 archivos" in body
    items = file_items(body)
    assert len(items) == 3
    kept = [number for number, item in enumerate(items, start=1) if "sin limpiar" in item]
    cleaned = [item for item in items if "sin limpiar" not in item]
    assert len(kept) == 2 and len(cleaned) == 1
    assert "ubicación GPS" in cleaned[0], "the photo is the one that was cleaned"
    assert f"Los archivos {kept[0]}, {kept[1]} se guardaron tal como los enviaste" in body
    # The line under the list no longer says every file was cleaned.
    assert "de cada archivo" not in body
    assert "se elimina de los tipos de archivo que se indican en la página de inicio" in body


@pytest.mark.django_db(transaction=True)
def test_with_a_separate_worker_a_program_is_warned_about_from_its_first_bytes(
    client: Client, open_tipline, monkeypatch
) -> None:
    # With a broker, the worker cleans after the answer: nothing is cleaned when
    # the page renders. The program's first bytes already say no cleaner takes
    # it; the zip's do not (a .docx starts the same way), nor can a photo's.
    monkeypatch.setattr(intake_services, "_enqueue_processing_on_commit", lambda pk: None)
    files = [("foto.jpg", a_photo()), ("setup.exe", a_program()), ("fotos.zip", an_archive())]
    body = body_of(submit_tip(client, files=files))
    assert position(body, 'class="kept-warning"') < position(body, 'class="file-list"')
    assert "No se pudo limpiar un archivo" in body
    assert "El archivo 2 se guardó tal como lo enviaste" in body
    items = file_items(body)
    assert ["sin limpiar" in item for item in items] == [False, True, False]


def test_the_first_bytes_name_a_kind_as_the_whole_file_does() -> None:
    # What the confirmation says early must agree with what the worker finds later.
    from tests.sanitize._support import corpus_files
    from tipline.sanitize.sniff import HEAD, sniff, sniff_head

    named = 0
    for path in corpus_files():
        data = path.read_bytes()
        early = sniff_head(data[:HEAD])
        if early is not None:
            named += 1
            assert early == sniff(io.BytesIO(data)), path.name
    assert named > 20, "the corpus should exercise the early naming"
    for undecided in (an_archive(), b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb" * 9):
        assert sniff_head(undecided) is None


@pytest.mark.django_db(transaction=True)
def test_cleaned_files_get_no_warning(client: Client, open_tipline) -> None:
    body = body_of(submit_tip(client, files=[("foto.jpg", a_photo())]))
    assert 'class="kept-warning"' not in body and "sin limpiar" not in body


# --- 3. A reload of the confirmation: tests/intake/test_form_token.py
#        (test_reloading_the_confirmation_stores_nothing_twice, test_a_replayed_token_...) ------


# --- 4. The send address and HEAD ------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["es", "en"])
@pytest.mark.parametrize("method", ["get", "head"])
def test_the_send_address_from_history_goes_to_the_form(
    client: Client, open_tipline, lang, method
) -> None:
    response = getattr(client, method)(f"/{lang}/send/")
    assert response.status_code == 303
    assert response["Location"] == f"/{lang}/"


def test_other_methods_on_the_send_address_are_still_refused(client: Client, open_tipline) -> None:
    assert client.put("/es/send/").status_code == 405
    assert client.delete("/es/send/").status_code == 405


@pytest.mark.parametrize(("url", "status"), [("/", 302), ("/es/", 200), ("/en/", 200)])
def test_head_answers_like_get_without_a_body(client: Client, open_tipline, url, status) -> None:
    head = client.head(url)
    assert head.status_code == status == client.get(url).status_code
    assert head.content == b""


# --- 5. aria-describedby names elements that exist --------------------------------------------------


def assert_descriptions_exist(body: str) -> list[tuple[str, list[str]]]:
    page = Page(body)
    for tag, ids in page.described_by:
        missing = [name for name in ids if name not in page.ids]
        assert not missing, f"<{tag}> is described by ids that do not exist: {missing}"
    return page.described_by


@pytest.mark.parametrize("lang", ["es", "en"])
def test_every_description_of_the_landing_page_exists(client: Client, open_tipline, lang) -> None:
    described = assert_descriptions_exist(body_of(client.get(f"/{lang}/")))
    referenced = {name for _tag, ids in described for name in ids}
    assert {"id_note_helptext", "id_links_helptext", "id_files_helptext"} <= referenced


def test_every_description_of_a_refused_landing_page_exists(
    client: Client, open_tipline, settings
) -> None:
    settings.TIPLINE_MAX_NOTE_CHARS = 10
    settings.TIPLINE_MAX_LINKS = 1
    response = submit_tip(client, note="x" * 11, links="https://a.example\nhttps://b.example")
    assert response.status_code == 400
    described = assert_descriptions_exist(body_of(response))
    referenced = {name for _tag, ids in described for name in ids}
    assert {"id_note_error", "id_links_error"} <= referenced


def test_every_description_of_a_refused_come_back_page_exists(client: Client, open_tipline) -> None:
    response = client.post("/es/come-back/", {"passphrase": ""})
    assert response.status_code == 400
    described = assert_descriptions_exist(body_of(response))
    assert any("id_passphrase_error" in ids for _tag, ids in described)


# --- 6. Field borders and the focus ring: at least 3:1 --------------------------------------------


def test_field_borders_reach_three_to_one() -> None:
    css = contrast.stylesheet()
    names = contrast.variables(css)
    field = contrast.declarations_for(css, "textarea")
    border = contrast.colour_of(field["border"], css)
    backgrounds = {
        "the field": contrast.colour_of(field["background"], css),
        "a card": contrast.colour_of(names["--card"], css),
        "the page": contrast.colour_of(names["--paper"], css),
    }
    for where, background in backgrounds.items():
        ratio = contrast.contrast_ratio(border, background)
        assert ratio >= contrast.NON_TEXT_MINIMUM, f"border {border} on {where}: {ratio:.2f}:1"
    for selector in ("input[type=text]", "input[type=password]", "select"):
        assert contrast.declarations_for(css, selector)["border"] == field["border"]


def test_the_focus_ring_reaches_three_to_one_on_every_background() -> None:
    css = contrast.stylesheet()
    names = contrast.variables(css)
    for selector in ("a:focus-visible", "button:focus-visible", "textarea:focus-visible"):
        ring = contrast.colour_of(contrast.declarations_for(css, selector)["outline"], css)
        for background in ("--card", "--paper", "--warn-bg"):
            ratio = contrast.contrast_ratio(ring, contrast.colour_of(names[background], css))
            assert ratio >= contrast.NON_TEXT_MINIMUM, f"{selector} on {background}: {ratio:.2f}"
    # In the dark header (language links, the staff menu) the ring has a colour of its own.
    header = contrast.declarations_for(css, ".site-header :focus-visible")["outline-color"]
    ink = contrast.colour_of(names["--ink"], css)
    assert contrast.contrast_ratio(contrast.colour_of(header, css), ink) >= 3.0
    summary = contrast.colour_of(
        contrast.declarations_for(css, ".error-summary:focus")["outline"], css
    )
    assert contrast.contrast_ratio(summary, contrast.colour_of(names["--paper"], css)) >= 3.0


def test_the_contrast_helper_agrees_with_wcag() -> None:
    assert contrast.contrast_ratio("#000", "#fff") == pytest.approx(21.0)
    assert contrast.contrast_ratio("#dcd9d0", "#ffffff") == pytest.approx(1.41, abs=0.01)
    assert contrast.contrast_ratio("rgb(224, 168, 0)", "white") == pytest.approx(2.15, abs=0.01)


# --- 7. Wording ----------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["es", "en"])
def test_the_empty_form_error_does_not_mention_files(client: Client, open_tipline, lang) -> None:
    body = body_of(submit_tip(client, note="", url=f"/{lang}/send/"))
    assert FILES_AGAIN[lang] not in body


@pytest.mark.parametrize("lang", ["es", "en"])
def test_a_refusal_with_files_asks_for_them_again(
    client: Client, open_tipline, settings, lang
) -> None:
    settings.TIPLINE_MAX_FILES = 1
    files = [("a.txt", b"a"), ("b.txt", b"b")]
    body = body_of(submit_tip(client, files=files, url=f"/{lang}/send/"))
    assert FILES_AGAIN[lang] in body


def test_saved_copies_are_mentioned_only_when_files_were_sent(client: Client, open_tipline) -> None:
    copies = "Si guardaste copias de los archivos"
    assert copies not in body_of(submit_tip(client, note="solo texto"))
    assert copies in body_of(submit_tip(client, note="y un archivo", files=[("a.txt", b"a")]))


@pytest.mark.parametrize(
    ("status", "note"),
    [
        (SanitizeStatus.CLEANED, "lossless"),
        (SanitizeStatus.CLEANED, "remuxed"),
        (SanitizeStatus.CLEANED_REENCODED, "reencoded"),
    ],
)
@pytest.mark.parametrize(("lang", "stem"), [("en", "re-encod"), ("es", "recodific")])
def test_re_encoding_is_mentioned_once(status, note, lang, stem) -> None:
    from django.utils import translation

    with translation.override(lang):
        lines = describe(Report(status=status, notes=[note, "orientation_kept"]))
    said = " ".join(lines)
    assert said.count(stem) == 1, lines
    assert "not changed" not in said and "no se modificó" not in said
    assert len(lines) == 2, "the other notes are kept"


def test_the_stacked_card_rule_does_not_shift_the_landing_grid() -> None:
    css = contrast.stylesheet()
    stacked = [
        (selector, declarations)
        for selectors, declarations in contrast.rules(css)
        for selector in selectors
        if selector.endswith(".card + .card") and "margin-top" in declarations
    ]
    assert stacked, "the rule for stacked cards is gone"
    for selector, _declarations in stacked:
        # The landing page's cards sit in the .cards grid, whose gap spaces them.
        assert selector.startswith(":not(.cards) >") or selector.startswith("body.staff"), selector
