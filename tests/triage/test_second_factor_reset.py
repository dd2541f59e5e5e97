"""Resetting an editor's second factor, and ending sessions (reset and deactivation).

A reset gives the account a new authenticator enrolment and new backup codes,
shown once in the POST's response; the old device and codes stop working and
every open session of the account ends. Password, key and grants stay.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.triage.helpers import EDITOR_PASSWORD, StaffAccount, english_client, signed_in_client
from tipline.accounts.services import editor_sessions_end
from tipline.accounts.signin import login_failure_record
from tipline.audit import Action, audit_verify
from tipline.models import AuditEntry, Grant, RecipientKey, StaffLoginState

pytestmark = pytest.mark.django_db

CODE = re.compile(r"^([2-9a-z]{10})$", re.MULTILINE)


def reset_url(account: StaffAccount) -> str:
    return f"/staff/editors/{account.user.pk}/reset-second-factor/"


def sessions_of(account: StaffAccount) -> int:
    return sum(
        1
        for session in Session.objects.all()
        if session.get_decoded().get(SESSION_KEY) == str(account.user.pk)
    )


def is_signed_in(client: Client) -> bool:
    response = client.get("/staff/")
    return response.status_code == 200


def totp_code(bin_key: bytes, device: TOTPDevice) -> str:
    totp = TOTP(bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def login(account: StaffAccount, code: str) -> int:
    data = {"username": account.username, "password": EDITOR_PASSWORD, "code": code}
    return english_client().post("/staff/login/", data).status_code


# --- Resetting -----------------------------------------------------------------------------


def test_reset_shows_new_secrets_once_and_the_old_ones_stop_working(
    admin_client, editor: StaffAccount
) -> None:
    old_device = TOTPDevice.objects.get(user=editor.user)
    old_code = totp_code(old_device.bin_key, old_device)
    old_backup = editor.backup_codes[0]
    editor_browser = signed_in_client(editor)
    assert is_signed_in(editor_browser)
    grants_before = Grant.objects.filter(recipient__user=editor.user).count()
    key_before = RecipientKey.objects.get(user=editor.user, active=True)

    response = admin_client.post(reset_url(editor), {"confirm": "on"})

    assert response.status_code == 200  # rendered, not redirected
    assert response["Cache-Control"] == "no-store, max-age=0"
    body = response.content.decode()
    assert "otpauth://totp/" in body
    assert '<figure class="qr"><svg viewBox=' in body
    codes = CODE.findall(body)
    assert len(codes) == 10 and old_backup not in codes
    assert "style=" not in body and "<script" not in body
    # The old device is gone; its code and the old backup codes fail.
    assert not TOTPDevice.objects.filter(pk=old_device.pk).exists()
    assert TOTPDevice.objects.filter(user=editor.user).count() == 1
    assert not StaticToken.objects.filter(token=old_backup).exists()
    assert login(editor, old_code) == 400  # refused
    assert login(editor, old_backup) == 400
    # Every session of the account ended.
    assert sessions_of(editor) == 0
    assert not is_signed_in(editor_browser)
    # The new codes and the same password work; key and grants are unchanged.
    assert login(editor, codes[0]) == 302
    new_device = TOTPDevice.objects.get(user=editor.user)
    assert login(editor, totp_code(new_device.bin_key, new_device)) == 302
    assert RecipientKey.objects.get(user=editor.user, active=True) == key_before
    assert Grant.objects.filter(recipient__user=editor.user).count() == grants_before

    entry = AuditEntry.objects.get(action=Action.SECOND_FACTOR_RESET)
    assert (entry.actor, entry.detail) == ("root", {"editor": "ana"})
    assert audit_verify().intact


def test_the_new_enrolment_uri_matches_the_new_device(admin_client, editor) -> None:
    body = admin_client.post(reset_url(editor), {"confirm": "on"}).content.decode()
    uri = re.search(r"otpauth://totp/[^<\s]+", body).group(0).replace("&amp;", "&")
    assert uri == TOTPDevice.objects.get(user=editor.user).config_url


def test_reset_clears_a_login_lock(admin_client, editor) -> None:
    for _ in range(6):
        login_failure_record(user=editor.user)
    admin_client.post(reset_url(editor), {"confirm": "on"})
    state = StaffLoginState.objects.get(user=editor.user)
    assert (state.failures, state.locked_until) == (0, None)


def test_reset_needs_the_box_ticked(admin_client, editor) -> None:
    device = TOTPDevice.objects.get(user=editor.user)
    response = admin_client.post(reset_url(editor))
    assert response.status_code == 302 and response["Location"] == "/staff/editors/"
    assert TOTPDevice.objects.get(user=editor.user) == device
    assert (
        "Tick the box to confirm the reset." in admin_client.get("/staff/editors/").content.decode()
    )
    assert not AuditEntry.objects.filter(action=Action.SECOND_FACTOR_RESET).exists()


def test_an_admin_cannot_reset_their_own(admin, admin_client) -> None:
    device = TOTPDevice.objects.get(user=admin.user)
    response = admin_client.post(reset_url(admin), {"confirm": "on"})
    assert response.status_code == 302
    assert TOTPDevice.objects.get(user=admin.user) == device
    assert is_signed_in(admin_client)


def test_editors_cannot_reset_anyone(editor_client, admin, make_editor) -> None:
    bea = make_editor("bea")
    for account in (admin, bea):
        device = TOTPDevice.objects.get(user=account.user)
        assert editor_client.post(reset_url(account), {"confirm": "on"}).status_code == 403
        assert TOTPDevice.objects.get(user=account.user) == device


def test_reset_refuses_get_and_deactivated_accounts(admin_client, editor) -> None:
    assert admin_client.get(reset_url(editor)).status_code == 405
    editor.user.is_active = False
    editor.user.save()
    assert admin_client.post(reset_url(editor), {"confirm": "on"}).status_code == 404


def test_the_editors_page_offers_the_reset_to_admins_only(admin_client, editor) -> None:
    assert reset_url(editor) in admin_client.get("/staff/editors/").content.decode()
    body = signed_in_client(editor).get("/staff/editors/").content.decode()
    assert "reset-second-factor" not in body


def test_csrf_is_enforced_on_the_reset(admin, editor) -> None:
    client = signed_in_client(admin)
    client.handler.enforce_csrf_checks = True
    client.get("/staff/editors/")
    device = TOTPDevice.objects.get(user=editor.user)
    assert client.post(reset_url(editor), {"confirm": "on"}).status_code == 403
    assert TOTPDevice.objects.get(user=editor.user) == device


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
