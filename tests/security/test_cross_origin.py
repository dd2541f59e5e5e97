"""The staff side cannot be framed, read or driven from another origin."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tests.security._support import (
    assert_no_cors,
    assert_no_server_error,
    csp_directives,
    csrf_token_from,
    placeholder_values,
    staff_urls,
    strict_signed_in_client,
)

pytestmark = pytest.mark.django_db

FOREIGN = "https://evil.example"


def test_staff_pages_cannot_be_framed_or_read_cross_origin(admin, editor, readable_tip):
    client = strict_signed_in_client(admin)
    for url in staff_urls(placeholder_values(readable_tip, editor)):
        if url.endswith("/logout/"):
            continue
        response = client.get(url, HTTP_ORIGIN=FOREIGN, HTTP_SEC_FETCH_SITE="cross-site")
        assert_no_server_error(response, label=url)
        assert response["X-Frame-Options"] == "DENY", url
        directives = csp_directives(response["Content-Security-Policy"])
        assert directives.get("frame-ancestors") == ["'none'"], url
        assert response["Cross-Origin-Resource-Policy"] == "same-origin", url
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", url
        assert_no_cors(response, label=url)


def test_preflight_gets_no_cors_permission(admin, editor, readable_tip):
    client = strict_signed_in_client(admin)
    headers = {
        "HTTP_ORIGIN": FOREIGN,
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST",
        "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "x-csrftoken, content-type",
    }
    urls = [
        *staff_urls(placeholder_values(readable_tip, editor)),
        "/es/send/",
        "/static/tipline.css",
    ]
    for url in urls:
        response = client.options(url, **headers)
        assert_no_server_error(response, label=url)
        assert_no_cors(response, label=url)


@pytest.mark.parametrize(
    "origin",
    [FOREIGN, "http://localhost.evil.example", "http://testserver.evil.example", "file://"],
)
def test_a_post_from_a_foreign_origin_is_refused_even_with_the_token(admin, readable_tip, origin):
    client = strict_signed_in_client(admin)
    token = csrf_token_from(client, f"/staff/tips/{readable_tip.reference}/")
    status_before = readable_tip.status
    for url, data in [
        (f"/staff/tips/{readable_tip.reference}/status/", {"status": "discarded"}),
        (f"/staff/tips/{readable_tip.reference}/notes/", {"body": "forged"}),
        ("/staff/logout/", {}),
    ]:
        response = client.post(
            url, {**data, "csrfmiddlewaretoken": token}, HTTP_ORIGIN=origin, secure=True
        )
        assert response.status_code == 403, (url, origin, response.status_code)
    readable_tip.refresh_from_db()
    assert readable_tip.status == status_before
    assert not readable_tip.editor_notes.exists()
    assert client.get("/staff/").status_code == 200


def test_staff_login_from_a_foreign_origin_is_refused(editor):
    client = Client(enforce_csrf_checks=True)
    token = csrf_token_from(client, "/staff/login/")
    response = client.post(
        "/staff/login/", {**editor.login_data(), "csrfmiddlewaretoken": token}, HTTP_ORIGIN=FOREIGN
    )
    assert response.status_code == 403
    assert settings.SESSION_COOKIE_NAME not in response.cookies


def test_same_origin_post_with_the_token_works(admin, readable_tip):
    """The refusals above are about the origin, not a broken form."""
    client = strict_signed_in_client(admin)
    token = csrf_token_from(client, f"/staff/tips/{readable_tip.reference}/")
    response = client.post(
        f"/staff/tips/{readable_tip.reference}/notes/",
        {"body": "ours", "csrfmiddlewaretoken": token},
        HTTP_ORIGIN="http://testserver",
    )
    assert response.status_code == 302
    assert readable_tip.editor_notes.count() == 1
