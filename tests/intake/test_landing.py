"""The source's landing page: languages by URL prefix, no traces, and the closed state."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db


def test_root_goes_to_spanish_whatever_the_browser_asks(client: Client) -> None:
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response.status_code == 302
    assert response["Location"] == "/es/"


@pytest.mark.parametrize(
    ("url", "lang", "headline", "other_language_link"),
    [
        ("/es/", "es", "Todo 100% anónimo", 'href="/en/" lang="en" hreflang="en">English</a>'),
        ("/en/", "en", "All 100% anonymous", 'href="/es/" lang="es" hreflang="es">español</a>'),
    ],
)
def test_landing_in_each_language(
    client: Client, open_tipline, url, lang, headline, other_language_link
) -> None:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="fr")
    body = response.content.decode()
    assert response.status_code == 200
    assert f'<html lang="{lang}">' in body
    assert headline in body
    assert other_language_link in body
    assert 'type="file" name="files"' in body and "multiple" in body
    assert 'enctype="multipart/form-data"' in body


def test_form_asks_for_no_identity(client: Client, open_tipline) -> None:
    body = client.get("/en/").content.decode().lower()
    for field in ('name="email"', 'name="name"', 'name="phone"', 'type="email"'):
        assert field not in body


def test_page_needs_no_script_and_loads_nothing_from_elsewhere(
    client: Client, open_tipline
) -> None:
    body = client.get("/es/").content.decode().lower()
    # One script, a file of ours that only enhances the form (resumable uploads); none inline.
    assert re.findall(r"<script[^>]*>(.*?)</script>", body, re.S) == [""]
    assert re.search(r'<script src="/static/upload\.[0-9a-f]{12}\.js" defer>', body)
    assert "style=" not in body and "<style" not in body
    assert "http://" not in body and "https://" not in body.replace("https://example", "")


def test_no_lasting_cookie_and_no_cache(client: Client, open_tipline) -> None:
    response = client.get("/es/")
    assert response["Cache-Control"] == "no-store, max-age=0"
    for morsel in response.cookies.values():
        assert morsel["expires"] == "" and morsel["max-age"] == "", morsel.key
        assert morsel["samesite"] == "Strict"
        assert morsel["httponly"]
    assert settings.SESSION_COOKIE_NAME not in response.cookies


def test_unknown_language_prefix_is_not_found(client: Client, open_tipline) -> None:
    assert client.get("/fr/").status_code == 404
    assert client.get("/xx/send/").status_code == 404


def test_closed_tipline_says_so_politely(client: Client) -> None:
    response = client.get("/en/")
    assert response.status_code == 503
    body = response.content.decode()
    assert "not open yet" in body
    assert "<form" not in body


def test_not_open_with_only_an_editor_key(client: Client, db) -> None:
    # #16: a recovery key too (tests/test_first_run_open_rule.py has the whole rule).
    from tipline.crypto import PrivateKey
    from tipline.keyring import recipient_key_register

    recipient_key_register(kind="editor", public_key=PrivateKey.generate().public_key())
    assert client.get("/en/").status_code == 503


def test_static_files_are_not_cached(client: Client) -> None:
    response = client.get("/static/tipline.css")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store, max-age=0"
