"""Logging in: password and one-time code, lockout by account, the key that lives for a session."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from tests.triage.helpers import english_client, signed_in_client
from tipline.accounts.session import SESSION_KEY_COOKIE, SESSION_SEALED_KEY
from tipline.accounts.signin import private_key_unseal
from tipline.models import AuditEntry, RecipientKey, StaffLoginState

pytestmark = pytest.mark.django_db
LOGIN = "/staff/login/"


def _is_signed_in(client: Client) -> bool:
    return client.get("/staff/").status_code == 200


def test_a_stranger_is_sent_to_the_login_page():
    response = english_client().get("/staff/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_password_and_a_totp_code_sign_in(editor):
    client = english_client()
    response = client.post(LOGIN, editor.login_data(editor.current_code()))
    assert response.status_code == 302 and response["Location"] == "/staff/"
    assert _is_signed_in(client)
    assert AuditEntry.objects.filter(action="login", actor=editor.username).exists()


def test_the_key_cookie_is_http_only_strict_and_scoped_to_staff_pages(editor):
    cookie = signed_in_client(editor).cookies[SESSION_KEY_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert cookie["path"] == "/staff/"
    assert not cookie["max-age"] and not cookie["expires"], "must die with the browser"


@pytest.mark.parametrize(
    "change",
    [
        {"password": "not the password at all"},
        {"code": "000000"},
        {"code": ""},
        {"username": "nobody-here"},
    ],
)
def test_anything_wrong_is_refused_with_the_same_message(editor, change):
    client = english_client()
    data = {**editor.login_data(editor.current_code()), **change}
    response = client.post(LOGIN, data)
    assert response.status_code == 400
    assert "That did not work" in response.content.decode()
    assert not _is_signed_in(client)
    assert SESSION_KEY_COOKIE not in client.cookies or not client.cookies[SESSION_KEY_COOKIE].value


def test_a_backup_code_works_once(editor):
    code = editor.backup_codes[0]
    assert english_client().post(LOGIN, editor.login_data(code)).status_code == 302
    assert english_client().post(LOGIN, editor.login_data(code)).status_code == 400


def test_an_account_locks_after_repeated_failures_even_for_the_right_password(editor):
    for _ in range(settings.TIPLINE_LOGIN_FAILURES_BEFORE_LOCK):
        english_client().post(
            LOGIN, {**editor.login_data("000000"), "password": "wrong wrong wrong"}
        )
    assert StaffLoginState.objects.get(user=editor.user).locked_until > timezone.now()
    assert english_client().post(LOGIN, editor.login_data()).status_code == 400
    # When the lock has run out, the right details work again and reset the count.
    StaffLoginState.objects.filter(user=editor.user).update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )
    assert english_client().post(LOGIN, editor.login_data()).status_code == 302
    assert StaffLoginState.objects.get(user=editor.user).failures == 0


def test_each_failure_past_the_threshold_doubles_the_lock(editor):
    limit = settings.TIPLINE_LOGIN_FAILURES_BEFORE_LOCK
    locks = []
    for _ in range(limit + 2):
        start = timezone.now()
        english_client().post(
            LOGIN, {**editor.login_data("000000"), "password": "wrong wrong wrong"}
        )
        state = StaffLoginState.objects.get(user=editor.user)
        if state.locked_until:
            locks.append((state.locked_until - start).total_seconds())
            # Let the next attempt be judged rather than refused by the lock.
            StaffLoginState.objects.filter(pk=state.pk).update(locked_until=None)
    minutes = settings.TIPLINE_LOGIN_LOCK_MINUTES * 60
    assert [round(seconds / minutes) for seconds in locks] == [1, 2, 4]


def test_no_client_address_is_stored_anywhere(editor):
    address = "203.0.113.77"
    client = english_client(REMOTE_ADDR=address, HTTP_X_FORWARDED_FOR=address)
    client.post(LOGIN, {**editor.login_data("000000")})
    client.post(LOGIN, editor.login_data())
    client.get("/staff/")
    database = settings.DATABASES["default"]["TEST"]["NAME"]
    from django.db import connection

    connection.close()  # flush SQLite's WAL into the file we read
    with open(database, "rb") as handle:
        raw = handle.read()
    wal = database + "-wal"
    try:
        with open(wal, "rb") as handle:
            raw += handle.read()
    except FileNotFoundError:
        pass
    assert address.encode() not in raw


def test_the_session_store_alone_cannot_open_the_private_key(editor):
    client = signed_in_client(editor)
    session = Session.objects.get(session_key=client.session.session_key).get_decoded()
    sealed = session[SESSION_SEALED_KEY]
    raw_key = private_key_unseal(user=editor.user, password=editor.password).to_bytes()
    blob = base64.b64decode(sealed)
    assert len(blob) > len(raw_key), "the key is in the session, sealed"
    assert raw_key not in blob and raw_key[:32] not in blob
    assert base64.b64encode(raw_key)[:40].decode() not in str(session)
    # The session without the cookie: the guard ends it rather than serve pages.
    stolen = english_client()
    stolen.cookies[settings.SESSION_COOKIE_NAME] = client.cookies[
        settings.SESSION_COOKIE_NAME
    ].value
    response = stolen.get("/staff/")
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_a_key_cookie_from_another_session_opens_nothing(make_editor):
    ana = signed_in_client(make_editor("ana"))
    bob = signed_in_client(make_editor("bob"))
    ana.cookies[SESSION_KEY_COOKIE] = bob.cookies[SESSION_KEY_COOKIE].value
    assert not _is_signed_in(ana)


def test_logging_out_forgets_the_session_and_the_key(editor):
    client = signed_in_client(editor)
    session_cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    key_cookie = client.cookies[SESSION_KEY_COOKIE].value
    response = client.post("/staff/logout/")
    assert response.status_code == 302
    assert client.cookies[SESSION_KEY_COOKIE].value == ""
    assert not Session.objects.filter(session_key=session_cookie).exists()
    replay = english_client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = session_cookie
    replay.cookies[SESSION_KEY_COOKIE] = key_cookie
    assert not _is_signed_in(replay)


def test_logout_needs_a_post(editor_client):
    assert editor_client.get("/staff/logout/").status_code == 405
    assert _is_signed_in(editor_client)


def test_a_wrong_current_password_changes_nothing(editor, editor_client):
    sealed = bytes(RecipientKey.objects.get(user=editor.user).sealed_private_key)
    response = editor_client.post(
        "/staff/password/",
        {"old_password": "wrong", "new_password": "x" * 20, "new_password_again": "x" * 20},
    )
    assert response.status_code == 200
    assert bytes(RecipientKey.objects.get(user=editor.user).sealed_private_key) == sealed


def test_next_only_leads_to_staff_pages(editor):
    data = {**editor.login_data(), "next": "https://evil.example/"}
    assert english_client().post(LOGIN, data)["Location"] == "/staff/"


def test_staff_pages_speak_the_browsers_language(editor):
    page = Client(headers={"accept-language": "es"}).get(LOGIN).content.decode()
    english = english_client().get(LOGIN).content.decode()
    assert "Staff login" in english and "Staff login" not in page
    assert 'lang="es"' in page and 'lang="en"' in english


def test_a_right_code_right_after_a_typo_still_works(editor):
    client = english_client()
    assert client.post(LOGIN, editor.login_data("000000")).status_code == 400
    assert client.post(LOGIN, editor.login_data(editor.current_code())).status_code == 302
