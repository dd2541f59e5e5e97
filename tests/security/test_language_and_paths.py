"""Invalid language prefixes and hostile paths: a plain 404 (or a redirect home), never a 500."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.security._support import assert_no_server_error, assert_pinned_headers

pytestmark = pytest.mark.django_db

NOT_FOUND = [
    "/xx/",
    "/xx/send/",
    "/fr/",
    "/ES/",
    "/En/",
    "/es-ES/",
    "/es-es/send/",
    "/en-us/",
    "/zh-hans/",
    "/es_ES/",
    "/../",
    "/es/../staff/",
    "/%2e%2e/",
    "/es/%2e%2e/%2e%2e/etc/passwd",
    "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/es/..%2f..%2fconfig/settings.py",
    "/static/../config/settings.py",
    "/static/%2e%2e/config/settings.py",
    "/static/..%2fconfig%2fsettings.py",
    "/static/%252e%252e/manage.py",
    "/static/",
    "/es/" + "a" * 10_000,
    "/" + "/".join(["x"] * 2000),
    "/es/\u00e9t\u00e9/",
    "/\u0627\u0644\u0639\u0631\u0628\u064a\u0629/",
    "/es/\u202egpj.exe",
    "/es/%00/",
    "/staff/%00",
    "/es/send/%0d%0aX-Injected:%201",
    "/%ff%fe/",
    "/es/%c0%ae%c0%ae/",
    "/staff/tips/..%2f..%2f/",
    "/staff/tips/%00/",
    "/staff/tips/" + "Z" * 5000 + "/",
    "/staff/tips/AAAA-BBBB-CCCC/files/99999999999999999999/",
    "/.env",
    "/.git/config",
    "/var/tipline.sqlite3",
    "/admin/",
]


@pytest.mark.parametrize("path", NOT_FOUND, ids=range(len(NOT_FOUND)))
def test_hostile_paths_are_not_found_or_sent_home(open_tipline, path):
    client = Client(raise_request_exception=False)
    for method in (client.get, client.post, client.head):
        response = method(path)
        assert response.status_code in {302, 400, 403, 404, 405}, (path, response.status_code)
        assert_no_server_error(response, label=path)
        assert_pinned_headers(response, label=path)
        if response.status_code == 302:
            assert response["Location"].startswith("/"), response["Location"]
            assert not response["Location"].startswith("//")


def test_a_staff_tip_reference_that_does_not_exist_is_not_found(editor_client):
    for reference in ("AAAA-BBBB-CCCC", "..", "%2e%2e", "x" * 500, "\u202e"):
        response = editor_client.get(f"/staff/tips/{reference}/")
        assert response.status_code == 404, reference
        assert_no_server_error(response, label=reference)


def test_double_slash_at_the_root_does_not_redirect_off_site(open_tipline):
    for path in ("//evil.example/", "//evil.example/es/", "/\\evil.example/"):
        response = Client().get(path)
        location = response.get("Location", "")
        assert "evil" not in location and not location.startswith("//"), (path, location)


def test_the_source_languages_still_work(open_tipline):
    assert Client().get("/es/").status_code == 200
    assert Client().get("/en/").status_code == 200
