"""The security headers are pinned on every response the site can give.

Every URL of the resolver is fetched: the source pages (GET and a real POST),
the staff pages as a stranger and as a signed-in admin, a static file, and the
error answers (404, 400, the CSRF 403, 413). Then header injection: CR/LF in
query strings and in the login's ``next``, and Host header attacks.
"""

from __future__ import annotations

import pytest
from django.test import Client

from tests.http_client import encode_multipart
from tests.intake.helpers import submit_tip
from tests.security._support import (
    assert_no_server_error,
    assert_pinned_headers,
    placeholder_values,
    source_urls,
    staff_urls,
)
from tests.test_settings import run_manage
from tests.triage.helpers import english_client, signed_in_client

pytestmark = pytest.mark.django_db


def every_response(admin, editor, tip) -> list[tuple[str, object]]:
    values = placeholder_values(tip, editor)
    anonymous = Client(raise_request_exception=False)
    signed_in = signed_in_client(admin)
    signed_in.raise_request_exception = False
    responses = []
    for url in source_urls():
        responses.append((f"GET {url}", anonymous.get(url)))
    for lang in ("es", "en"):
        url = f"/{lang}/send/"
        responses.append((f"POST {url}", submit_tip(anonymous, note="hola", url=url)))
    for url in staff_urls(values):
        responses.append((f"anonymous GET {url}", anonymous.get(url)))
        responses.append((f"anonymous POST {url}", anonymous.post(url)))
        if not url.endswith("/logout/"):
            responses.append((f"signed-in GET {url}", signed_in.get(url)))
    reference = tip.reference
    responses += [
        ("download", signed_in.get(f"/staff/tips/{reference}/files/2/?confirm=1")),
        ("static file", anonymous.get("/static/tipline.css")),
        ("404", anonymous.get("/nowhere/")),
        ("staff 404", signed_in.get("/staff/nowhere/")),
        ("400 bad host", anonymous.get("/es/", HTTP_HOST="evil.example")),
        (
            "400 broken upload",
            anonymous.generic(
                "POST",
                "/es/send/",
                b"--B\r\nnot a part",
                content_type="multipart/form-data; boundary=B",
            ),
        ),
        ("403 CSRF", Client(enforce_csrf_checks=True).post("/es/send/", {"note": "x"})),
        ("403 staff CSRF", Client(enforce_csrf_checks=True).post("/staff/login/", {})),
    ]
    body, content_type = encode_multipart({"note": "x"}, [])
    responses.append(
        (
            "413",
            anonymous.generic(
                "POST",
                "/es/send/",
                body,
                content_type=content_type,
                CONTENT_LENGTH=str(10 * 1024**4),
            ),
        )
    )
    return responses


def test_every_response_carries_the_pinned_headers(admin, editor, readable_tip):
    responses = every_response(admin, editor, readable_tip)
    statuses = {response.status_code for _label, response in responses}
    # Not vacuous: the pages and every kind of refusal were reached.
    assert {200, 302, 400, 403, 404, 405, 413} <= statuses, statuses
    assert len(responses) > 60
    for label, response in responses:
        assert_no_server_error(response, label=label)
        assert_pinned_headers(response, label=label)


def test_permissions_policy_and_csp_are_exactly_pinned(client, open_tipline):
    response = client.get("/es/")
    policy = response["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()"):
        assert feature in [item.strip() for item in policy.split(",")]
    csp = response["Content-Security-Policy"]
    for directive in ("frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"):
        assert directive in [part.strip() for part in csp.split(";")], csp
    # Scripts: our own files only (static/upload.js), talking to us only; never inline or eval.
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    assert directives["default-src"] == ["'none'"], csp
    assert directives["script-src"] == ["'self'"], csp
    assert directives["connect-src"] == ["'self'"], csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "nonce-" not in csp


def test_no_hsts_over_plain_http(client, open_tipline):
    assert not client.get("/es/").has_header("Strict-Transport-Security")


def test_hsts_over_https(client, open_tipline, settings):
    settings.SECURE_HSTS_SECONDS = 63072000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    for url in ("/es/", "/staff/login/", "/nowhere/", "/static/tipline.css"):
        response = client.get(url, secure=True)
        hsts = response.get("Strict-Transport-Security", "")
        assert "max-age=63072000" in hsts, (url, hsts)


def test_tipline_https_turns_hsts_on_in_the_settings(tmp_path):
    show = (
        "from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_INCLUDE_SUBDOMAINS)"
    )
    result = run_manage(
        "shell",
        "-v",
        "0",
        "-c",
        show,
        env_extra={"TIPLINE_HTTPS": "true"},
        data_dir=tmp_path / "data",
    )
    assert result.returncode == 0, result.stderr
    seconds, redirect, subdomains = result.stdout.split()
    assert int(seconds) >= 31536000 and redirect == "True" and subdomains == "True"


ONION = "http://tiplinexxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion"


def test_onion_location_on_every_page_when_set(client, open_tipline, settings):
    settings.TIPLINE_ONION_URL = ONION + "/"
    for url in ("/es/", "/en/?a=1", "/staff/login/", "/nowhere/", "/static/tipline.css"):
        response = client.get(url)
        assert response["Onion-Location"] == ONION + url, url


def test_no_onion_location_when_unset(client, open_tipline, settings):
    settings.TIPLINE_ONION_URL = ""
    assert not client.get("/es/").has_header("Onion-Location")


# --- Header injection -------------------------------------------------------------------------

INJECTIONS = (
    "%0d%0aX-Injected:%201",
    "%0aSet-Cookie:%20stolen=1",
    "%E5%98%8A%E5%98%8DX-Injected:1",
)


def assert_no_injected_header(response) -> None:
    for name, value in response.items():
        assert "\r" not in value and "\n" not in value, (name, value)
        assert name.lower() != "x-injected"
    assert "stolen" not in response.cookies


@pytest.mark.parametrize("payload", INJECTIONS)
def test_crlf_in_query_strings_splits_no_header(client, open_tipline, settings, payload):
    settings.TIPLINE_ONION_URL = ONION  # the one header that echoes the request's path
    for url in ("/es/", "/staff/login/", "/staff/", "/", "/nowhere/"):
        response = client.get(f"{url}?q={payload}&next={payload}")
        assert_no_server_error(response, label=url)
        assert_no_injected_header(response)


@pytest.mark.parametrize(
    "next_url",
    [
        "/staff/\r\nX-Injected: 1",
        "/staff/%0d%0aX-Injected:%201",
        "https://evil.example/staff/",
        "//evil.example/staff/",
        "/\\evil.example/staff/",
        "javascript:alert(1)",
        "/staff/\x00",
    ],
)
def test_next_of_the_staff_login_cannot_inject_or_leave(editor, next_url):
    client = english_client()
    page = client.get("/staff/login/", {"next": next_url})
    assert_no_server_error(page)
    assert "evil.example" not in page.content.decode()
    response = client.post("/staff/login/", {**editor.login_data(), "next": next_url})
    assert response.status_code == 302
    assert_no_injected_header(response)
    location = response["Location"]
    assert location.startswith("/staff/") and not location.startswith("//"), location
    assert "evil.example" not in location


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:8000",
        "127.0.0.1@evil.example",
        "localhost\r\nX-Injected: 1",
        "a" * 300,
        "[::1",
        "localhost:80:80",
        "local host",
        "",
    ],
)
def test_host_header_attacks_are_refused_without_reflection(client, open_tipline, host):
    for url in ("/es/", "/staff/login/", "/"):
        response = client.get(url, HTTP_HOST=host)
        assert response.status_code == 400, (url, host)
        assert_no_server_error(response, label=url)
        assert_no_injected_header(response)
        assert b"evil" not in response.content


def test_forwarded_host_is_not_believed(client, open_tipline, editor):
    response = client.get("/", HTTP_X_FORWARDED_HOST="evil.example")
    assert response.status_code == 302 and "evil" not in response["Location"]
    response = english_client().post(
        "/staff/login/",
        {**editor.login_data(), "next": "http://evil.example/staff/"},
        HTTP_X_FORWARDED_HOST="evil.example",
    )
    assert "evil" not in response["Location"]
