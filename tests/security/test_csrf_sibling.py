"""CSRF without exceptions (issue 13): each defence against a sibling subdomain, one at a time.

A page on ``evil.example.org`` is *same-site* with ``tips.example.org``: the
``SameSite=Strict`` cookies still go with its posts, it can plant cookies for
the parent domain, and with ``<meta name=referrer content=no-referrer>`` the
browser sends ``Origin: null``. tests/integration/test_csrf_sibling_attack.py
replays the whole attack in Chromium; here, through Django's test client:

- ``Origin: null`` is refused on every form, staff and source, even with the
  right token, and even when the browser says ``Sec-Fetch-Site: same-origin``
  (tests/security/test_csrf.py, which finds every form);
- our own origin is accepted (and over HTTPS a same-origin ``Referer``);
- cookies a sibling could plant (the old names) are not read: not for the
  CSRF token, the session, or the language;
- every cookie the site sets is a ``__Host-`` cookie with the attributes that
  need (Secure, Path=/, no Domain), plus SameSite=Strict and HttpOnly; the one
  exception is the staff key cookie (``Path=/staff/``, tipline/accounts/session.py);
- the cookie names follow TIPLINE_SECURE_COOKIES, and the checks warn or stop;
- every kind of page sends ``Referrer-Policy: same-origin`` (so our forms carry
  their real origin) and says so in its ``<meta name=referrer>`` too.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tests.intake.helpers import form_token_of, submit_tip
from tests.intake.tus_support import TusClient
from tests.security._support import (
    body_of,
    csrf_token_from,
    placeholder_values,
    source_urls,
    staff_urls,
    strict_signed_in_client,
)
from tests.test_settings import run_manage
from tests.triage.helpers import english_client, signed_in_client
from tipline import checks
from tipline.accounts.session import SESSION_KEY_COOKIE
from tipline.models import RetentionPolicy, Tip

pytestmark = pytest.mark.django_db

HOST = "__Host-"
# The names a sibling page can plant: the ones the site used before issue 13.
OLD_CSRF, OLD_SESSION, OLD_LANGUAGE = "csrftoken", "sessionid", "django_language"
PLANTED = "Planted0Token1Of2The3Attacker456"  # the form of a CSRF secret: 32 letters and digits
OWN_ORIGIN = "http://testserver"


# --- Our origin accepted, a sibling's refused (Origin: null: test_csrf.py) ---------------------


def post_source_form(client: Client, page, **extra):
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    data = {"note": "hola", "csrfmiddlewaretoken": token, "form_token": form_token_of(page)}
    return client.post("/es/send/", data, **extra)


def test_our_own_origin_is_accepted_on_staff_and_source_forms(admin, readable_tip):
    victim = strict_signed_in_client(admin)
    token = csrf_token_from(victim, f"/staff/tips/{readable_tip.reference}/")
    response = victim.post(
        f"/staff/tips/{readable_tip.reference}/notes/",
        {"body": "ours", "csrfmiddlewaretoken": token},
        HTTP_ORIGIN=OWN_ORIGIN,
    )
    assert response.status_code == 302
    assert readable_tip.editor_notes.count() == 1

    source = Client(enforce_csrf_checks=True)
    page = source.get("/es/")
    tips_before = Tip.objects.count()
    response = post_source_form(source, page, HTTP_ORIGIN=OWN_ORIGIN)
    assert response.status_code == 200
    assert Tip.objects.count() == tips_before + 1


def test_over_https_our_origin_or_referrer_is_accepted_and_a_siblings_is_not(open_tipline):
    sent = []
    for headers in (
        {"HTTP_ORIGIN": "https://testserver"},
        # A browser that sends no Origin still sends the Referer to our own pages.
        {"HTTP_REFERER": "https://testserver/es/"},
    ):
        source = Client(enforce_csrf_checks=True)
        page = source.get("/es/", secure=True)
        sent.append(post_source_form(source, page, secure=True, **headers).status_code)
    assert sent == [200, 200]
    assert Tip.objects.count() == 2
    for headers in (
        {"HTTP_ORIGIN": "https://evil.testserver"},
        {"HTTP_REFERER": "https://evil.testserver/forge.html"},
        {},  # neither: over HTTPS the origin must be shown one way or the other
    ):
        source = Client(enforce_csrf_checks=True)
        page = source.get("/es/", secure=True)
        assert post_source_form(source, page, secure=True, **headers).status_code == 403
    assert Tip.objects.count() == 2


def test_origin_null_stays_refused_whatever_the_trusted_origins(admin, readable_tip, settings):
    """Django alone would take ``null`` once it is listed; tipline/csrf.py never does."""
    settings.CSRF_TRUSTED_ORIGINS = ["null"]
    victim = strict_signed_in_client(admin)
    token = csrf_token_from(victim, f"/staff/tips/{readable_tip.reference}/")
    response = victim.post(
        f"/staff/tips/{readable_tip.reference}/notes/",
        {"body": "forged", "csrfmiddlewaretoken": token},
        HTTP_ORIGIN="null",
    )
    assert response.status_code == 403
    assert not readable_tip.editor_notes.exists()


# --- Cookies a sibling can plant are not read -------------------------------------------------------


def test_a_planted_csrf_cookie_does_not_vouch_for_a_forged_token(admin, readable_tip):
    """Even with our own Origin (which a sibling page cannot send), the planted token fails."""
    victim = strict_signed_in_client(admin)
    victim.cookies[OLD_CSRF] = PLANTED
    status_before = readable_tip.status
    for url, data in [
        (f"/staff/tips/{readable_tip.reference}/status/", {"status": "discarded"}),
        ("/staff/retention/", {"default_days": "1"}),
    ]:
        response = victim.post(
            url, {**data, "csrfmiddlewaretoken": PLANTED}, HTTP_ORIGIN=OWN_ORIGIN
        )
        assert response.status_code == 403, (url, response.status_code)
    readable_tip.refresh_from_db()
    assert readable_tip.status == status_before
    assert RetentionPolicy.current().default_days != 1


def test_a_planted_session_cookie_does_not_sign_the_victim_in(admin, editor):
    """Session fixation: the attacker's own session, planted, would make the victim act in it."""
    attacker = signed_in_client(editor)
    assert attacker.get("/staff/").status_code == 200
    victim = english_client()
    victim.cookies[OLD_SESSION] = attacker.cookies[settings.SESSION_COOKIE_NAME].value
    victim.cookies[SESSION_KEY_COOKIE] = attacker.cookies[SESSION_KEY_COOKIE].value
    response = victim.get("/staff/")
    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/")


def test_a_planted_language_cookie_is_not_read(open_tipline):
    client = english_client()
    client.cookies[OLD_LANGUAGE] = "es"
    page = client.get("/staff/login/").content.decode()
    assert '<html lang="en">' in page


# --- The cookies the site sets ----------------------------------------------------------------------


def assert_host_only(response, name: str) -> None:
    morsel = response.cookies[name]
    header = morsel.output(header="").strip()
    assert name.startswith(HOST), header
    assert morsel["secure"] is True, header
    assert morsel["path"] == "/", header
    assert morsel["domain"] == "" and "domain=" not in header.lower(), header
    assert morsel["samesite"] == "Strict", header
    assert morsel["httponly"] is True, header
    # Session cookies: nothing outlives the browser session.
    assert morsel["expires"] == "" and morsel["max-age"] == "", header


def test_csrf_and_session_cookies_are_host_only_cookies(admin):
    assert settings.CSRF_COOKIE_NAME == HOST + OLD_CSRF
    assert settings.SESSION_COOKIE_NAME == HOST + OLD_SESSION
    client = english_client(enforce_csrf_checks=True)
    for url in ("/es/", "/en/", "/staff/login/"):
        fresh = Client()
        assert_host_only(fresh.get(url), settings.CSRF_COOKIE_NAME)
    token = csrf_token_from(client, "/staff/login/")
    login = client.post("/staff/login/", {**admin.login_data(), "csrfmiddlewaretoken": token})
    assert login.status_code == 302
    assert_host_only(login, settings.SESSION_COOKIE_NAME)
    assert_host_only(login, settings.CSRF_COOKIE_NAME)  # rotated at sign-in


def test_every_cookie_the_site_sets_is_a_host_only_cookie(admin, editor, readable_tip):
    """Every page, signed out and in, and a staff action that leaves a message."""
    responses = []
    anonymous = Client(raise_request_exception=False)
    for url in [*source_urls(), "/staff/login/"]:
        responses.append(anonymous.get(url))
    responses.append(submit_tip(Client(), note="hola"))
    victim = strict_signed_in_client(admin)
    for url in staff_urls(placeholder_values(readable_tip, editor)):
        if not url.endswith("/logout/"):
            responses.append(victim.get(url))
    token = csrf_token_from(victim, f"/staff/tips/{readable_tip.reference}/")
    changed = victim.post(
        f"/staff/tips/{readable_tip.reference}/status/",
        {"status": "verified", "csrfmiddlewaretoken": token},
    )
    assert changed.status_code == 302
    responses += [changed, victim.get(changed["Location"])]
    assert "Status changed." in victim_page(responses[-1])  # the message came through

    names = {name for response in responses for name in response.cookies}
    assert settings.CSRF_COOKIE_NAME in names
    assert names <= {settings.CSRF_COOKIE_NAME, settings.SESSION_COOKIE_NAME, SESSION_KEY_COOKIE}
    for response in responses:
        for name in response.cookies:
            if name != SESSION_KEY_COOKIE and response.cookies[name].value:
                assert_host_only(response, name)


def victim_page(response) -> str:
    return body_of(response).decode()


# --- The names follow TIPLINE_SECURE_COOKIES; the checks ------------------------------------------

SHOW_COOKIES = (
    "from django.conf import settings as s; "
    "print(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, f"{HOST}sessionid {HOST}csrftoken True True"),
        ("true", f"{HOST}sessionid {HOST}csrftoken True True"),
        ("false", "sessionid csrftoken False False"),
    ],
)
def test_cookie_names_follow_secure_cookies(tmp_path, value, expected):
    env = {} if value is None else {"TIPLINE_SECURE_COOKIES": value}
    result = run_manage(
        "shell", "-v", "0", "-c", SHOW_COOKIES, env_extra=env, data_dir=tmp_path / "data"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == expected


def check_ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_the_checks_pass_with_host_only_cookies(settings):
    assert checks.check_host_only_cookies(None) == []
    settings.TIPLINE_HTTPS = True
    assert checks.check_host_only_cookies(None) == []


def test_cookies_without_the_prefix_are_warned_about_and_refused_over_https(settings):
    settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME = OLD_SESSION, OLD_CSRF
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    settings.TIPLINE_HTTPS = False
    assert check_ids(checks.check_host_only_cookies(None)) == ["tipline.W020"]
    settings.TIPLINE_HTTPS = True
    [error] = checks.check_host_only_cookies(None)
    assert error.id == "tipline.E021" and error.is_serious()


@pytest.mark.parametrize(
    "broken",
    [
        {"CSRF_COOKIE_SECURE": False},
        {"SESSION_COOKIE_SECURE": False},
        {"CSRF_COOKIE_DOMAIN": ".example.org"},
        {"SESSION_COOKIE_DOMAIN": ".example.org"},
        {"SESSION_COOKIE_PATH": "/staff/"},
        {"CSRF_COOKIE_PATH": "/staff/"},
    ],
)
def test_a_host_cookie_browsers_would_refuse_stops_everything(settings, broken):
    for name, value in broken.items():
        setattr(settings, name, value)
    [error] = checks.check_host_only_cookies(None)
    assert error.id == "tipline.E020" and error.is_serious()


def test_wildcard_trusted_origins_are_warned_about(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["http://tipline.onion"]
    assert checks.check_trusted_origins(None) == []
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.org"]
    assert check_ids(checks.check_trusted_origins(None)) == ["tipline.W021"]


def test_tipline_status_warns_and_refuses_over_https_without_the_prefix(tmp_path):
    data = tmp_path / "data"
    assert run_manage("migrate", "-v", "0", env_extra={}, data_dir=data).returncode == 0
    warned = run_manage(
        "tipline_status", env_extra={"TIPLINE_SECURE_COOKIES": "false"}, data_dir=data
    )
    assert warned.returncode == 0, warned.stderr
    assert "tipline.W020" in warned.stderr
    refused = run_manage(
        "tipline_status",
        env_extra={"TIPLINE_SECURE_COOKIES": "false", "TIPLINE_HTTPS": "true"},
        data_dir=data,
    )
    assert refused.returncode != 0
    assert "tipline.E021" in refused.stderr
    assert "NOT open" not in refused.stdout
    fine = run_manage("tipline_status", env_extra={}, data_dir=data)
    assert fine.returncode == 0 and "tipline." not in fine.stderr, fine.stderr


# --- Referrer-Policy, per kind of page ----------------------------------------------------------------


REFERRER_META = '<meta name="referrer" content="same-origin">'


def test_every_kind_of_page_sends_referrer_policy_same_origin(admin, editor, readable_tip):
    anonymous = Client(raise_request_exception=False)
    signed_in = signed_in_client(admin)
    ref = readable_tip.reference
    pages = {
        "source landing": anonymous.get("/es/"),
        "source confirmation": submit_tip(Client(), note="hola"),
        "source form refused": submit_tip(Client(), note=""),
        "staff login": anonymous.get("/staff/login/"),
        "staff inbox": signed_in.get("/staff/"),
        "staff tip": signed_in.get(f"/staff/tips/{ref}/"),
        "staff retention": signed_in.get("/staff/retention/"),
    }
    others = {
        "staff file download": signed_in.get(f"/staff/tips/{ref}/files/2/?confirm=1"),
        "static file": anonymous.get("/static/tipline.css"),
        "not found": anonymous.get("/nowhere/"),
        "csrf refusal": Client(enforce_csrf_checks=True).post("/staff/login/", {}),
        "resumable upload": TusClient().call("OPTIONS", "/es/uploads/"),
    }
    assert pages["source confirmation"].status_code == 200
    assert others["csrf refusal"].status_code == 403
    assert others["staff file download"].status_code == 200
    for label, response in {**pages, **others}.items():
        assert response["Referrer-Policy"] == "same-origin", label
    for label, response in pages.items():
        html = victim_page(response)
        assert html.count('<meta name="referrer"') == 1 and REFERRER_META in html, label
