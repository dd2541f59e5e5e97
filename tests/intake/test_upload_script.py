"""The page's resumable-upload script: what the page gives it, and what it must never do.

The script (static/upload.js) is checked in a real browser by
tests/integration/test_browser_resumable.py; here, without one: its words come
translated from the page, and its source holds nothing that stores state in
the browser or runs text as code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db

SCRIPT = Path(settings.BASE_DIR) / "static" / "upload.js"
WORDS = (
    "progress",
    "waiting",
    "done",
    "retrying",
    "resuming",
    "failed",
    "refused",
    "sending",
)


def words_of(body: str) -> dict[str, str]:
    return dict(re.findall(r'data-text-([a-z]+)="([^"]*)"', body))


def test_the_page_gives_the_script_its_words_in_both_languages(
    client: Client, open_tipline
) -> None:
    spanish, english = (words_of(client.get(f"/{lang}/").content.decode()) for lang in ("es", "en"))
    assert set(spanish) == set(english) == set(WORDS)
    for key in WORDS:
        assert spanish[key] and english[key], key
        assert spanish[key] != english[key], key  # translated
    assert "{seconds}" in spanish["retrying"] and "{seconds}" in english["retrying"]
    for placeholder in ("{percent}", "{speed}", "{remaining}"):
        assert placeholder in spanish["progress"] and placeholder in english["progress"]
    assert "reintenta" in spanish["retrying"]


def test_the_form_tells_the_script_where_and_how_much(
    client: Client, open_tipline, settings
) -> None:
    body = client.get("/en/").content.decode()
    assert 'data-upload-url="/en/uploads/"' in body
    assert f'data-max-files="{settings.TIPLINE_MAX_FILES}"' in body
    assert f'data-max-file-mb="{settings.TIPLINE_MAX_FILE_BYTES // 2**20}"' in body
    assert 'id="upload-progress" hidden' in body  # nothing shows without the script


def test_the_script_keeps_no_state_in_the_browser_and_runs_no_text_as_code() -> None:
    # The code, not its comments (which say what it never does).
    source = re.sub(r"/\*.*?\*/", "", SCRIPT.read_text(), flags=re.S)
    source = re.sub(r"(^|\s)//[^\n]*", "", source)
    for forbidden in (
        "localStorage",
        "sessionStorage",
        "indexedDB",
        "document.cookie",
        "caches.",
        "eval(",
        "new Function",
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "http://",
        "https://",
        ".style",
    ):
        assert forbidden not in source, forbidden
    assert "crypto.getRandomValues" in source
    assert "Tipline-Upload-Secret" in source and "Tus-Resumable" in source
