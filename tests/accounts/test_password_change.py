"""A password change makes a new key pair, moves every grant to it and retires the old key.

The attack it stops: someone who knows an editor's old password (the admin
who set it, someone who saw it typed) and holds a copy of the database from
before the change (a backup) must not be able to open tips that arrive after
the change, using that old copy together with any later one.
"""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client

from tests.accounts.enrol_support import is_signed_in
from tests.triage.helpers import english_client, send_tip, signed_in_client
from tipline.accounts.services import editor_password_change
from tipline.accounts.session import SESSION_KEY_COOKIE
from tipline.accounts.signin import private_key_unseal
from tipline.audit import Action, audit_verify
from tipline.crypto import CryptoError, decrypt_bytes, unseal_private_key
from tipline.keyring import tip_key_open
from tipline.models import AuditEntry, Grant, RecipientKey, StaffLoginState, Tip
from tipline.sealed import Part, tip_object_id

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "an entirely new passphrase 7"


def change(client: Client, old: str, new: str = NEW_PASSWORD):
    return client.post(
        "/staff/password/",
        {"old_password": old, "new_password": new, "new_password_again": new},
    )


def note_of(tip: Tip, wrapped_key: bytes, private_key) -> str:
    tip_key = tip_key_open(tip=tip, wrapped_key=wrapped_key, private_key=private_key)
    content = decrypt_bytes(
        bytes(tip.content_sealed),
        tip_key=tip_key,
        object_id=tip_object_id(tip.key_id, Part.CONTENT),
    )
    return json.loads(content)["note"]


def test_an_old_database_copy_and_the_old_password_open_no_tip_sent_after(
    open_tipline, editor, editor_client
) -> None:
    before = send_tip(note="sent before the change")
    # The attacker's old copy of the database: the editor's key row and its grants.
    old_row = RecipientKey.objects.get(user=editor.user, active=True)
    old_copy_sealed_key = bytes(old_row.sealed_private_key)
    old_copy_grants = {
        g.tip_id: bytes(g.wrapped_key) for g in Grant.objects.filter(recipient=old_row)
    }

    assert change(editor_client, editor.password).status_code == 302
    after = send_tip(note="sent after the change")

    old_private_key = unseal_private_key(old_copy_sealed_key, editor.password)
    # The old key is retired: its sealed private key wiped and no grant left to it.
    old_row.refresh_from_db()
    assert not old_row.active and old_row.sealed_private_key is None
    assert not Grant.objects.filter(recipient=old_row).exists()
    # No grant of the new tip opens with the old key (there is none to it).
    grants_after = Grant.objects.filter(tip=after)
    assert grants_after.exists()
    for grant in grants_after:
        with pytest.raises(CryptoError):
            note_of(after, bytes(grant.wrapped_key), old_private_key)
    # What the old copy held, it still opens: that much no change can undo.
    assert note_of(before, old_copy_grants[before.pk], old_private_key) == "sent before the change"

    # The editor reads both tips, old and new, with the new password.
    new_row = RecipientKey.objects.get(user=editor.user, active=True)
    assert new_row.pk != old_row.pk and new_row.fingerprint != old_row.fingerprint
    new_private_key = private_key_unseal(user=editor.user, password=NEW_PASSWORD)
    for tip, note in ((before, "sent before the change"), (after, "sent after the change")):
        grant = Grant.objects.get(tip=tip, recipient=new_row)
        assert note_of(tip, bytes(grant.wrapped_key), new_private_key) == note
        assert english_client().get(f"/staff/tips/{tip.reference}/").status_code == 302
        assert editor_client.get(f"/staff/tips/{tip.reference}/").status_code == 200


def test_the_session_that_changed_stays_signed_in_with_the_new_key_and_others_end(
    open_tipline, editor, editor_client
) -> None:
    tip = send_tip(note="x")
    other = signed_in_client(editor)
    old_cookie = editor_client.cookies[SESSION_KEY_COOKIE].value
    old_session = editor_client.cookies[settings.SESSION_COOKIE_NAME].value

    response = change(editor_client, editor.password)

    assert response.status_code == 302 and response["Location"] == "/staff/"
    assert editor_client.cookies[SESSION_KEY_COOKIE].value != old_cookie
    assert editor_client.cookies[settings.SESSION_COOKIE_NAME].value != old_session
    assert is_signed_in(editor_client)
    assert editor_client.get(f"/staff/tips/{tip.reference}/").status_code == 200
    # Another browser of the account, holding the old key, is signed out.
    assert not is_signed_in(other)


def test_the_old_password_stops_working_and_the_new_one_signs_in(editor, editor_client) -> None:
    change(editor_client, editor.password)
    assert english_client().post("/staff/login/", editor.login_data()).status_code == 400
    editor.password = NEW_PASSWORD
    assert english_client().post("/staff/login/", editor.login_data()).status_code == 302


def test_the_change_is_audited_with_fingerprints_and_never_the_password(
    open_tipline, editor, editor_client
) -> None:
    send_tip(note="one")
    send_tip(note="two")
    old = RecipientKey.objects.get(user=editor.user, active=True).fingerprint
    change(editor_client, editor.password)
    new = RecipientKey.objects.get(user=editor.user, active=True).fingerprint
    entry = AuditEntry.objects.get(action=Action.PASSWORD_CHANGED)
    assert entry.actor == "ana"
    assert entry.detail == {"key": new, "previous": old, "grants_moved": 2, "grants_dropped": 0}
    every_entry = str(list(AuditEntry.objects.values()))
    assert NEW_PASSWORD not in every_entry and editor.password not in every_entry
    assert audit_verify().intact


def test_a_failure_half_way_changes_nothing(open_tipline, editor, monkeypatch) -> None:
    send_tip(note="one")
    send_tip(note="two")
    key_before = RecipientKey.objects.get(user=editor.user, active=True)
    grants_before = set(Grant.objects.values_list("pk", "recipient_id"))
    password_before = editor.user.password
    calls = []

    def fail_on_the_second(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(**kwargs)

    from tipline.accounts import keys

    real = keys.grant_create
    monkeypatch.setattr(keys, "grant_create", fail_on_the_second)
    with pytest.raises(RuntimeError):
        editor_password_change(
            user=editor.user, old_password=editor.password, new_password=NEW_PASSWORD
        )
    editor.user.refresh_from_db()
    assert editor.user.password == password_before
    assert RecipientKey.objects.get(user=editor.user, active=True) == key_before
    assert RecipientKey.objects.get(pk=key_before.pk).sealed_private_key is not None
    assert set(Grant.objects.values_list("pk", "recipient_id")) == grants_before
    assert not AuditEntry.objects.filter(action=Action.PASSWORD_CHANGED).exists()


def test_wrong_current_passwords_count_against_the_lock(editor, editor_client) -> None:
    sealed = bytes(RecipientKey.objects.get(user=editor.user).sealed_private_key)
    for _ in range(settings.TIPLINE_LOGIN_FAILURES_BEFORE_LOCK):
        response = change(editor_client, "not the password at all")
        assert response.status_code == 200
    assert StaffLoginState.objects.get(user=editor.user).locked_until is not None
    # Locked: even the right current password is refused now, and nothing changed.
    response = change(editor_client, editor.password)
    assert "Too many wrong passwords" in response.content.decode()
    assert bytes(RecipientKey.objects.get(user=editor.user).sealed_private_key) == sealed


def test_the_change_needs_a_signed_in_session(editor) -> None:
    response = change(Client(), editor.password)
    assert response.status_code == 302 and response["Location"].startswith("/staff/login/")
    assert RecipientKey.objects.filter(user=editor.user).count() == 1
