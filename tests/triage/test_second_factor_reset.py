"""Resetting an editor's second factor, and ending sessions (reset and deactivation).

A reset stops the old authenticator and backup codes and ends every open
session of the account. The admin gets a one-time sign-in code, never an
authenticator secret or a backup code: with it and their own password the
editor enrols a new authenticator on their own screen. Password, key and
grants stay.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session

from tests.accounts.enrol_support import (
    ENROL,
    OTPAUTH,
    SIGN_IN_CODE,
    enrol,
    is_signed_in,
    sign_in,
    sign_in_code_from,
)
from tests.triage.helpers import EDITOR_PASSWORD, StaffAccount, signed_in_client, totp_code
from tipline.accounts.services import editor_sessions_end
from tipline.accounts.signin import login_attempt_begin
from tipline.audit import Action, audit_verify
from tipline.models import (
    AuditEntry,
    AuthenticatorDevice,
    BackupCode,
    Grant,
    RecipientKey,
    StaffEnrolment,
    StaffLoginState,
)

pytestmark = pytest.mark.django_db


def reset_url(account: StaffAccount) -> str:
    return f"/staff/editors/{account.user.pk}/reset-second-factor/"


def sessions_of(account: StaffAccount) -> int:
    return sum(
        1
        for session in Session.objects.all()
        if session.get_decoded().get(SESSION_KEY) == str(account.user.pk)
    )


def login(account: StaffAccount, code: str) -> int:
    return sign_in(account.username, EDITOR_PASSWORD, code)[1].status_code


# --- Resetting -----------------------------------------------------------------------------


def test_reset_gives_the_admin_a_sign_in_code_and_no_second_factor(
    admin_client, editor: StaffAccount
) -> None:
    old_backup = editor.backup_codes[0]
    editor_browser = signed_in_client(editor)
    assert is_signed_in(editor_browser)

    response = admin_client.post(reset_url(editor), {"confirm": "on"})

    assert response.status_code == 200  # rendered, not redirected
    assert response["Cache-Control"] == "no-store, max-age=0"
    body = response.content.decode()
    sign_in_code_from(response)
    assert "otpauth://" not in body and "<svg" not in body
    assert old_backup not in body
    assert "style=" not in body and "<script" not in body
    # The old authenticator and backup codes are gone and fail.
    assert not AuthenticatorDevice.objects.filter(user=editor.user).exists()
    assert not BackupCode.objects.filter(device__user=editor.user).exists()
    assert login(editor, editor.current_code()) == 400
    assert login(editor, old_backup) == 400
    # Every session of the account ended.
    assert sessions_of(editor) == 0
    assert not is_signed_in(editor_browser)
    entry = AuditEntry.objects.get(action=Action.SECOND_FACTOR_RESET)
    assert (entry.actor, entry.detail) == ("root", {"editor": "ana"})
    assert audit_verify().intact


def test_the_editor_enrols_a_new_authenticator_the_admin_never_saw(
    admin_client, editor: StaffAccount, tip_for_editor
) -> None:
    key_before = RecipientKey.objects.get(user=editor.user, active=True)
    grants_before = Grant.objects.filter(recipient__user=editor.user).count()
    admin_page = admin_client.post(reset_url(editor), {"confirm": "on"}).content.decode()
    code = SIGN_IN_CODE.search(admin_page).group(1)

    browser, response = sign_in(editor.username, EDITOR_PASSWORD, code)
    assert response.status_code == 302 and response["Location"] == ENROL
    assert not is_signed_in(browser)  # no staff page before the enrolment is done
    enrolment = enrol(browser)  # the same password: only the second factor is new
    assert is_signed_in(browser)
    # What the editor's app and paper now hold was never on the admin's page.
    assert enrolment.uri not in admin_page
    assert not set(enrolment.backup_codes) & set(admin_page.split())
    assert len(enrolment.backup_codes) == 10
    # The key and the grants did not change; the code is spent.
    assert RecipientKey.objects.get(user=editor.user, active=True) == key_before
    assert Grant.objects.filter(recipient__user=editor.user).count() == grants_before
    assert browser.get(f"/staff/tips/{tip_for_editor.reference}/").status_code == 200
    assert not StaffEnrolment.objects.filter(user=editor.user).exists()
    assert login(editor, code) == 400
    assert login(editor, totp_code(enrolment.uri, drift=1)) == 302
    assert login(editor, enrolment.backup_codes[0]) == 302
    enrolment_actions = [Action.ENROLMENT_BEGUN, Action.SECOND_FACTOR_ENROLLED]
    entries = AuditEntry.objects.filter(action__in=enrolment_actions).order_by("id")
    assert [(e.actor, e.action) for e in entries] == [("ana", a) for a in enrolment_actions]
    assert entries.last().detail == {"password_changed": False}


def test_a_second_reset_voids_the_first_code_and_its_enrolment(admin_client, editor) -> None:
    first = sign_in_code_from(admin_client.post(reset_url(editor), {"confirm": "on"}))
    browser, _ = sign_in(editor.username, EDITOR_PASSWORD, first)
    assert browser.get(ENROL).status_code == 200
    second = sign_in_code_from(admin_client.post(reset_url(editor), {"confirm": "on"}))
    assert first != second
    # The enrolment begun with the first code is over, and the first code fails.
    response = browser.get(ENROL)
    assert response.status_code == 302 and response["Location"] == "/staff/login/"
    assert login(editor, first) == 400
    assert sign_in(editor.username, EDITOR_PASSWORD, second)[1]["Location"] == ENROL


def test_reset_clears_a_login_lock(admin_client, editor) -> None:
    for _ in range(6):
        login_attempt_begin(user=editor.user)
    admin_client.post(reset_url(editor), {"confirm": "on"})
    state = StaffLoginState.objects.get(user=editor.user)
    assert (state.failures, state.locked_until) == (0, None)


def test_reset_needs_the_box_ticked(admin_client, editor) -> None:
    device = AuthenticatorDevice.objects.get(user=editor.user)
    response = admin_client.post(reset_url(editor))
    assert response.status_code == 302 and response["Location"] == "/staff/editors/"
    assert AuthenticatorDevice.objects.get(user=editor.user) == device
    assert (
        "Tick the box to confirm the reset." in admin_client.get("/staff/editors/").content.decode()
    )
    assert not AuditEntry.objects.filter(action=Action.SECOND_FACTOR_RESET).exists()


def test_an_admin_cannot_reset_their_own(admin, admin_client) -> None:
    device = AuthenticatorDevice.objects.get(user=admin.user)
    response = admin_client.post(reset_url(admin), {"confirm": "on"})
    assert response.status_code == 302
    assert AuthenticatorDevice.objects.get(user=admin.user) == device
    assert is_signed_in(admin_client)


def test_editors_cannot_reset_anyone(editor_client, admin, make_editor) -> None:
    bea = make_editor("bea")
    for account in (admin, bea):
        device = AuthenticatorDevice.objects.get(user=account.user)
        assert editor_client.post(reset_url(account), {"confirm": "on"}).status_code == 403
        assert AuthenticatorDevice.objects.get(user=account.user) == device
    assert not StaffEnrolment.objects.exists()


def test_reset_refuses_get_and_deactivated_accounts(admin_client, editor) -> None:
    assert admin_client.get(reset_url(editor)).status_code == 405
    editor.user.is_active = False
    editor.user.save()
    assert admin_client.post(reset_url(editor), {"confirm": "on"}).status_code == 404


def test_the_editors_page_offers_the_reset_to_admins_only(admin_client, editor) -> None:
    assert reset_url(editor) in admin_client.get("/staff/editors/").content.decode()
    body = signed_in_client(editor).get("/staff/editors/").content.decode()
    assert "reset-second-factor" not in body


def test_the_editors_page_says_who_must_enrol(admin_client, editor) -> None:
    admin_client.post(reset_url(editor), {"confirm": "on"})
    body = admin_client.get("/staff/editors/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "must set up a second factor" in body


def test_csrf_is_enforced_on_the_reset(admin, editor) -> None:
    client = signed_in_client(admin)
    client.handler.enforce_csrf_checks = True
    client.get("/staff/editors/")
    device = AuthenticatorDevice.objects.get(user=editor.user)
    assert client.post(reset_url(editor), {"confirm": "on"}).status_code == 403
    assert AuthenticatorDevice.objects.get(user=editor.user) == device


def test_the_enrolment_page_never_shows_an_admin_the_secret(admin_client, editor) -> None:
    # Even signed in as an admin, the enrolment page is not reachable: it
    # belongs to the session that signed in with the sign-in code.
    admin_client.post(reset_url(editor), {"confirm": "on"})
    response = admin_client.get(ENROL)
    assert response.status_code == 302
    assert not OTPAUTH.search(admin_client.get("/staff/editors/").content.decode())


# --- Sessions end ---------------------------------------------------------------------------


def test_deactivation_ends_the_accounts_sessions(admin, admin_client, editor) -> None:
    first, second = signed_in_client(editor), signed_in_client(editor)
    assert sessions_of(editor) == 2
    response = admin_client.post(f"/staff/editors/{editor.user.pk}/deactivate/", {"confirm": "on"})
    assert response.status_code == 302
    assert sessions_of(editor) == 0
    for browser in (first, second):
        response = browser.get("/staff/")
        assert response.status_code == 302 and response["Location"].startswith("/staff/login/")
    # The admin's own session is untouched.
    assert is_signed_in(admin_client)


def test_an_inactive_account_is_signed_out_even_with_its_session_row(editor) -> None:
    # What Django does by itself: the auth backend refuses an inactive user on
    # the next request, whatever the session says.
    browser = signed_in_client(editor)
    editor.user.is_active = False
    editor.user.save()
    assert sessions_of(editor) == 1
    assert not is_signed_in(browser)


def test_ending_sessions_touches_only_that_account(make_editor) -> None:
    ana, bea = make_editor("ana"), make_editor("bea")
    ana_browser, bea_browser = signed_in_client(ana), signed_in_client(bea)
    assert editor_sessions_end(user=ana.user) == 1
    assert not is_signed_in(ana_browser)
    assert is_signed_in(bea_browser)
