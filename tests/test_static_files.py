"""Static files: hashed names, a year in the cache, gzip; every page still no-store.

The suite serves what `collectstatic` wrote (tests/conftest.py runs it into the
run's own STATIC_ROOT), through the same middleware as production, so a page
here links exactly what a browser would fetch.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.security._support import assert_no_cors, assert_pinned_headers, csp_directives

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
HASHED = r"/static/{stem}\.[0-9a-f]{{12}}\.{ext}"
NO_STORE = "no-store, max-age=0"
A_YEAR = 31536000


def linked(page: str, stem: str, ext: str) -> str:
    found = re.findall(r'href="(' + HASHED.format(stem=re.escape(stem), ext=ext) + ')"', page)
    assert len(found) == 1, f"no single hashed link to {stem}.{ext} in the page"
    return found[0]


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def max_age(cache_control: str) -> int:
    match = re.search(r"max-age=(\d+)", cache_control)
    assert match, cache_control
    return int(match.group(1))


@pytest.fixture
def landing_page(client: Client, open_tipline) -> str:
    response = client.get("/es/")
    assert response.status_code == 200
    return response.content.decode()


def test_pages_link_the_stylesheet_and_the_icon_by_hashed_name(landing_page: str) -> None:
    assert linked(landing_page, "tipline", "css")
    assert linked(landing_page, "favicon", "svg")
    assert 'href="/static/tipline.css"' not in landing_page


def test_a_hashed_stylesheet_is_cached_for_a_year_and_sent_compressed(
    client: Client, landing_page: str
) -> None:
    url = linked(landing_page, "tipline", "css")
    source = (ROOT / "static" / "tipline.css").read_bytes()

    compressed = client.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert compressed.status_code == 200
    assert compressed["Cache-Control"] == "max-age=31536000, immutable"
    assert max_age(compressed["Cache-Control"]) >= A_YEAR
    assert compressed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in compressed["Vary"]
    assert compressed["Content-Type"].startswith("text/css")
    content = body(compressed)
    assert len(content) < len(source) / 2, "gzip should at least halve a stylesheet"
    assert gzip.decompress(content) == source
    # Cached, but still under the policy every response carries (no-store apart).
    assert csp_directives(compressed["Content-Security-Policy"])["default-src"] == ["'none'"]
    assert compressed["Cross-Origin-Resource-Policy"] == "same-origin"
    assert compressed["X-Content-Type-Options"] == "nosniff"
    assert_no_cors(compressed, label=url)

    plain = client.get(url)
    assert not plain.has_header("Content-Encoding")
    assert body(plain) == source


def test_pages_and_unhashed_names_stay_no_store(client: Client, open_tipline) -> None:
    for url in ("/es/", "/en/", "/staff/login/", "/nowhere/", "/static/tipline.css"):
        response = client.get(url, HTTP_ACCEPT_ENCODING="gzip")
        assert response["Cache-Control"] == NO_STORE, url
    page = client.get("/es/", HTTP_ACCEPT_ENCODING="gzip")
    assert "immutable" not in page["Cache-Control"]
    # A file that merely looks hashed is not: only names the manifest made are cached.
    fake = client.get("/static/tipline.0123456789ab.css")
    assert fake.status_code == 404 and fake["Cache-Control"] == NO_STORE


def test_the_policy_lets_the_page_load_its_own_static_files(
    client: Client, landing_page: str
) -> None:
    directives = csp_directives(client.get("/es/")["Content-Security-Policy"])
    assert directives["style-src"] == ["'self'"]
    assert directives["img-src"] == ["'self'"]
    for url in re.findall(r'(?:href|src)="(/static/[^"]+)"', landing_page):
        assert client.get(url).status_code == 200, url


def test_the_icon_answers_at_both_addresses(client: Client, landing_page: str) -> None:
    svg = client.get(linked(landing_page, "favicon", "svg"))
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert body(svg).startswith(b"<svg")
    # Browsers ask for /favicon.ico whatever the page links: no 404 on a first visit.
    ico = client.get("/favicon.ico")
    assert ico.status_code == 200
    assert ico["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert body(ico)[:4] == b"\x00\x00\x01\x00"  # the ICO header
    assert ico["Cache-Control"] == NO_STORE
    assert_pinned_headers(ico, label="/favicon.ico")


def test_static_files_are_collected_outside_the_data_dir() -> None:
    static_root = Path(settings.STATIC_ROOT).resolve()
    data_dir = Path(settings.DATA_DIR).resolve()
    assert not static_root.is_relative_to(data_dir)
    assert (static_root / "staticfiles.json").is_file()


def test_make_setup_collects_the_static_files() -> None:
    """`make run`, `make test` and CI all go through `setup`."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    setup = makefile.split("\nsetup:", 1)[1].split("\n\n", 1)[0]
    assert "manage.py collectstatic --noinput" in setup
    for target in ("run", "test", "integration"):
        assert re.search(rf"^{target}:.*\bsetup\b", makefile, re.MULTILINE), target


def test_the_live_server_of_the_browser_tests_serves_hashed_names(live_server) -> None:
    """Chromium in tests/integration loads pages from pytest-django's live server."""
    from urllib.request import urlopen

    from django.contrib.staticfiles.storage import staticfiles_storage

    url = staticfiles_storage.url("tipline.css")
    assert re.fullmatch(HASHED.format(stem="tipline", ext="css"), url)
    with urlopen(live_server.url + url, timeout=10) as response:  # noqa: S310 - our own server
        assert response.status == 200
        assert response.headers["Cache-Control"] == "max-age=31536000, immutable"
        assert response.read() == (ROOT / "static" / "tipline.css").read_bytes()
