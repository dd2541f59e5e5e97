"""An account an admin makes: at its first sign-in it chooses its password and enrols its own
second factor before any staff page opens, so no admin knows a working secret of it after.
"""

from __future__ import annotations

import re
import time

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from tests.accounts.enrol_support import (
    ENROL,
    LOGIN,
    enrol,
    enrolment_uri,
    is_signed_in,
    sign_in,
    sign_in_code_from,
)
from tests.route_samples import route_filled
from tests.triage.helpers import english_client, send_tip, totp_code
from tipline.accounts.selectors import editor_key
from tipline.accounts.session import SESSION_KEY_COOKIE
from tipline.accounts.signin import private_key_unseal
from tipline.audit import Action
from tipline.models import (
    AuditEntry,
    AuthenticatorDevice,
    Grant,
    RecipientKey,
    StaffEnrolment,
    Tip,
)

pytestmark = pytest.mark.django_db

ADMINS_PASSWORD = "the password the admin chose"
CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
OWN_PASSWORD = "cleo's very own passphrase"


def invite(admin_client: Client, username: str = "cleo") -> str:
    """The admin makes the account in the interface; returns the sign-in code shown once."""
    response = admin_client.post(
        "/staff/editors/new/",
        {"username": username, "password": ADMINS_PASSWORD, "password_again": ADMINS_PASSWORD},
    )
    assert response.status_code == 200
    return sign_in_code_from(response)


def staff_urls() -> list[tuple[str, str]]:
    """(name, URL) of every staff page, sample values filled in."""
    found = []
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace == "staff":
            for pattern in entry.url_patterns:
                assert isinstance(pattern, URLPattern)
                route = route_filled(str(pattern.pattern), {"<str:reference>": "1"})
                found.append((pattern.name, "/staff/" + route))
    return found


def test_every_staff_url_leads_to_the_enrolment_page_until_it_is_done(
    admin_client, open_tipline
) -> None:
    tip = send_tip(note="for the newsroom")
    code = invite(admin_client)
    browser, response = sign_in("cleo", ADMINS_PASSWORD, code)
    assert response.status_code == 302 and response["Location"] == ENROL
    audited = AuditEntry.objects.filter(action=Action.ENROLMENT_BEGUN, actor="cleo")
    assert audited.exists()

    checked = 0
    for name, url in staff_urls():
        if name in {"enrol", "logout"}:
            continue
        followed = browser.get(url, follow=True)
        assert followed.request["PATH_INFO"] == ENROL, f"{name} ended at {followed.request}"
        checked += 1
        if name == "login":
            continue  # its POST is the sign-in form itself
        posted = browser.post(url, {"status": "discarded", "confirm": "on"})
        assert posted.status_code in {302, 405}, name
        if posted.status_code == 302:
            assert posted["Location"].split("?")[0] == LOGIN, name
    assert checked >= 15
    tip.refresh_from_db()
    assert tip.status == Tip.Status.NEW
    # Done: the staff pages open.
    enrol(browser, password=OWN_PASSWORD)
    assert is_signed_in(browser)
    assert browser.get("/staff/editors/").status_code == 200


def test_the_admins_password_and_code_stop_working_once_done(admin_client) -> None:
    code = invite(admin_client)
    browser, _ = sign_in("cleo", ADMINS_PASSWORD, code)
    enrolment = enrol(browser, password=OWN_PASSWORD)
    next_code = totp_code(enrolment.uri, drift=1)
    assert sign_in("cleo", ADMINS_PASSWORD, code)[1].status_code == 400
    assert sign_in("cleo", ADMINS_PASSWORD, next_code)[1].status_code == 400
    assert sign_in("cleo", OWN_PASSWORD, code)[1].status_code == 400
    assert sign_in("cleo", OWN_PASSWORD, next_code)[1]["Location"] == "/staff/"
    assert sign_in("cleo", OWN_PASSWORD, enrolment.backup_codes[0])[1]["Location"] == "/staff/"


def test_the_account_gets_its_key_only_under_its_own_password(admin_client, open_tipline) -> None:
    code = invite(admin_client)
    cleo = StaffEnrolment.objects.get().user
    early = send_tip(note="sent before cleo signed in")
    assert editor_key(cleo) is None
    assert not Grant.objects.filter(tip=early, recipient__user=cleo).exists()

    browser, _ = sign_in("cleo", ADMINS_PASSWORD, code)
    enrol(browser, password=OWN_PASSWORD)

    assert RecipientKey.objects.filter(user=cleo).count() == 1
    assert private_key_unseal(user=cleo, password=ADMINS_PASSWORD) is None
    assert private_key_unseal(user=cleo, password=OWN_PASSWORD) is not None
    later = send_tip(note="sent after")
    assert browser.get(f"/staff/tips/{later.reference}/").status_code == 200
    assert browser.get(f"/staff/tips/{early.reference}/").status_code == 404
    entry = AuditEntry.objects.filter(action=Action.SECOND_FACTOR_ENROLLED).get()
    assert (entry.actor, entry.detail) == ("cleo", {"password_changed": True})


def test_the_password_the_admin_chose_cannot_be_kept(admin_client) -> None:
    code = invite(admin_client)
    browser, _ = sign_in("cleo", ADMINS_PASSWORD, code)
    uri = enrolment_uri(browser)
    response = browser.post(
        ENROL,
        {
            "code": totp_code(uri),
            "new_password": ADMINS_PASSWORD,
            "new_password_again": ADMINS_PASSWORD,
        },
    )
    assert response.status_code == 200
    assert "Choose a password other than the one you were given" in response.content.decode()
    assert StaffEnrolment.objects.filter(user__username="cleo").exists()
    assert not is_signed_in(browser)


def test_a_wrong_code_from_the_app_changes_nothing(admin_client) -> None:
    code = invite(admin_client)
    browser, _ = sign_in("cleo", ADMINS_PASSWORD, code)
    uri = enrolment_uri(browser)
    accepted = {totp_code(uri, drift=d) for d in (-1, 0, 1)}
    wrong = next(c for c in ("123456", "654321", "000000") if c not in accepted)
    response = browser.post(
        ENROL, {"code": wrong, "new_password": OWN_PASSWORD, "new_password_again": OWN_PASSWORD}
    )
    assert "That is not the code the app shows now" in response.content.decode()
    assert StaffEnrolment.objects.filter(user__username="cleo").exists()
    assert not AuthenticatorDevice.objects.filter(user__username="cleo").exists()
    # Reloading shows the same secret: the app the person just set up stays right.
    assert enrolment_uri(browser) == uri


def test_the_enrolment_page_is_closed_to_everyone_else(admin_client, editor_client) -> None:
    invite(admin_client)
    for client in (english_client(), editor_client, admin_client):
        response = client.get(ENROL)
        assert response.status_code == 302 and response["Location"] == LOGIN
        response = client.post(ENROL, {"code": "123456"})
        assert response.status_code == 302
    assert StaffEnrolment.objects.filter(user__username="cleo").exists()


def test_the_enrolment_session_runs_out(admin_client) -> None:
    code = invite(admin_client)
    browser, _ = sign_in("cleo", ADMINS_PASSWORD, code)
    session = browser.session
    session["tipline_enrolment"] = {**session["tipline_enrolment"], "until": time.time() - 1}
    session.save()
    assert browser.get(ENROL)["Location"] == LOGIN


def test_a_sign_in_code_runs_out(admin_client) -> None:
    code = invite(admin_client)
    StaffEnrolment.objects.update(expires_at=timezone.now() - timezone.timedelta(seconds=1))
    assert sign_in("cleo", ADMINS_PASSWORD, code)[1].status_code == 400


def test_the_enrolment_needs_the_browsers_key(admin_client) -> None:
    # The session row alone (a stolen session cookie, a database dump) is not enough.
    code = invite(admin_client)
    browser, _ = sign_in("cleo", ADMINS_PASSWORD, code)
    uri = enrolment_uri(browser)
    thief = english_client()
    thief.cookies[settings.SESSION_COOKIE_NAME] = browser.cookies[
        settings.SESSION_COOKIE_NAME
    ].value
    response = thief.get(ENROL)
    assert response.status_code == 302
    session_row = Session.objects.get(session_key=browser.session.session_key)
    secret = uri.split("secret=")[1].split("&")[0]
    assert secret not in session_row.session_data
    assert secret not in str(session_row.get_decoded())


def test_the_qr_code_encodes_the_uri(admin_client) -> None:
    import segno

    from tipline.triage.qr import QR_SVG_OPTIONS

    code = invite(admin_client)
    browser, _ = sign_in("cleo", ADMINS_PASSWORD, code)
    body = browser.get(ENROL).content.decode()
    uri = enrolment_uri(browser)
    assert segno.make(uri, error="m").svg_inline(**QR_SVG_OPTIONS) in body
    assert "style=" not in body and "<script" not in body


def test_only_one_of_two_enrolments_finishes(admin_client) -> None:
    code = invite(admin_client)
    first, _ = sign_in("cleo", ADMINS_PASSWORD, code)
    second, _ = sign_in("cleo", ADMINS_PASSWORD, code)
    enrolment_uri(second)
    enrol(first, password=OWN_PASSWORD)
    # The second browser's enrolment ended with the first one's success.
    response = second.post(ENROL, {"code": "000000", "new_password": "x" * 20})
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert AuthenticatorDevice.objects.filter(user__username="cleo").count() == 1


def test_cancelling_signs_out(admin_client) -> None:
    code = invite(admin_client)
    browser, _ = sign_in("cleo", ADMINS_PASSWORD, code)
    assert browser.post("/staff/logout/").status_code == 302
    assert browser.get(ENROL)["Location"] == LOGIN


def test_accounts_an_admin_made_before_codes_enrol_with_their_current_factor(
    open_tipline, make_editor
) -> None:
    # What migration 0006 marks: an account made in the interface before this
    # change (its admin chose its password and saw its authenticator secret).
    ana = make_editor("ana")
    tip = send_tip(note="read before and after")
    old_key = editor_key(ana.user)
    StaffEnrolment.objects.create(user=ana.user, reason="new_account", code_digest="")
    browser, response = sign_in("ana", ana.password, ana.backup_codes.pop())
    assert response["Location"] == ENROL
    enrolment = enrol(browser, password=OWN_PASSWORD)
    new_key = editor_key(ana.user)
    assert new_key.pk != old_key.pk
    assert browser.get(f"/staff/tips/{tip.reference}/").status_code == 200
    # The authenticator the admin saw and the old password no longer work.
    assert sign_in("ana", ana.password, ana.current_code(drift=1))[1].status_code == 400
    assert sign_in("ana", OWN_PASSWORD, ana.current_code(drift=1))[1].status_code == 400
    assert sign_in("ana", OWN_PASSWORD, totp_code(enrolment.uri, drift=1))[1].status_code == 302


def test_the_enrolment_form_needs_its_csrf_token(admin_client) -> None:
    code = invite(admin_client)
    browser = Client(enforce_csrf_checks=True)
    token = CSRF_TOKEN.search(browser.get(LOGIN).content.decode()).group(1)
    data = {"username": "cleo", "password": ADMINS_PASSWORD, "code": code}
    assert browser.post(LOGIN, {**data, "csrfmiddlewaretoken": token})["Location"] == ENROL
    uri = enrolment_uri(browser)
    own = {"new_password": OWN_PASSWORD, "new_password_again": OWN_PASSWORD}
    assert browser.post(ENROL, {**own, "code": totp_code(uri)}).status_code == 403
    assert StaffEnrolment.objects.filter(user__username="cleo").exists()


def test_without_the_browsers_key_the_login_page_shows_and_does_not_loop(admin_client) -> None:
    code = invite(admin_client)
    browser, _ = sign_in("cleo", ADMINS_PASSWORD, code)
    del browser.cookies[SESSION_KEY_COOKIE]
    assert browser.get(LOGIN).status_code == 200
    assert browser.get(ENROL)["Location"] == LOGIN


def test_the_enrolment_page_speaks_spanish(admin_client) -> None:
    code = invite(admin_client)
    browser, _ = sign_in("cleo", ADMINS_PASSWORD, code)
    body = browser.get(ENROL, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Configura tu cuenta" in body and "Tu propia contraseña" in body
