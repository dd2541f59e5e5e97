"""The recovery key page: its status, the coverage gap, and rotation by an unlocked admin.

Rotation makes a new key, deactivates the old one (which keeps its grants),
grants the new key every tip the admin can read and reports the tips it could
not grant. The sealed private key is the POST's response, a download that is
never stored on the server.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import RecoveryKey
from tests.triage.helpers import signed_in_client
from tipline.audit import Action, audit_verify
from tipline.crypto import Argon2Params, decrypt_bytes, new_tip_key
from tipline.intake.services import tip_create
from tipline.keyring import (
    KeyringError,
    active_recovery_key,
    dearmor_recovery_key,
    recovery_private_key_load,
    tip_key_unwrap,
)
from tipline.models import AuditEntry, Grant, RecipientKey, Tip
from tipline.sealed import Part, tip_object_id

pytestmark = pytest.mark.django_db

URL = "/staff/recovery-key/"
NEW_PASSPHRASE = "a new recovery passphrase for the safe"


@pytest.fixture(autouse=True)
def cheap_recovery_argon2(monkeypatch) -> None:
    # The real cost (256 MiB) is for the file that leaves the server; see tests/conftest.py.
    monkeypatch.setattr(
        "tipline.keyring.RECOVERY_KEY_ARGON2",
        Argon2Params(memory_cost=8 * 1024, iterations=1, lanes=1),
    )


def make_tip(note: str = "the note") -> Tip:
    return tip_create(
        tip_key_id=uuid.uuid4(),
        tip_key=new_tip_key(),
        note=note,
        links=[],
        uploads=[],
        arrived_in_flood=False,
    )


def rotate_form(passphrase: str = NEW_PASSPHRASE, again: str | None = None) -> dict[str, str]:
    return {"passphrase": passphrase, "passphrase_again": passphrase if again is None else again}


def note_of(tip: Tip, recipient: RecipientKey, private_key) -> str:
    tip_key = tip_key_unwrap(tip=tip, recipient=recipient, private_key=private_key)
    content = decrypt_bytes(
        bytes(tip.content_sealed),
        tip_key=tip_key,
        object_id=tip_object_id(tip.key_id, Part.CONTENT),
    )
    return json.loads(content)["note"]


def downloaded_key(response, tmp_path: Path):
    path = tmp_path / "downloaded.key"
    path.write_bytes(response.content)
    return recovery_private_key_load(path=path, passphrase=NEW_PASSPHRASE)


# --- The status -----------------------------------------------------------------------------


def test_the_page_shows_the_key_and_how_many_tips_it_reads(
    recovery_key: RecoveryKey, admin, admin_client
) -> None:
    make_tip()
    make_tip()
    body = admin_client.get(URL).content.decode()
    assert recovery_key.recipient.fingerprint in body
    assert recovery_key.recipient.created_on.isoformat() in body
    assert "2 of 2" in body
    assert "cannot be recovered" not in body
    assert "style=" not in body and "<script" not in body


def test_a_gap_in_coverage_is_shown(recovery_key: RecoveryKey, admin, admin_client) -> None:
    make_tip()
    uncovered = make_tip()
    Grant.objects.filter(tip=uncovered, recipient=recovery_key.recipient).delete()
    body = admin_client.get(URL).content.decode()
    assert "1 of 2" in body
    assert "1 tip cannot be recovered with this key" in body


def without_recovery_key() -> None:
    """As after `create_editor` alone: the staff fixtures make a recovery key (#16), gone here."""
    RecipientKey.objects.filter(kind=RecipientKey.Kind.RECOVERY).update(active=False)


def test_without_a_recovery_key_the_page_says_so(admin_client) -> None:
    without_recovery_key()
    body = admin_client.get(URL).content.decode()
    assert "There is no active recovery key" in body
    assert "Create and download the key" in body


def test_editors_cannot_see_or_rotate(recovery_key: RecoveryKey, editor_client) -> None:
    assert editor_client.get(URL).status_code == 403
    assert editor_client.post(URL, rotate_form()).status_code == 403
    assert active_recovery_key() == recovery_key.recipient


# --- Rotation -------------------------------------------------------------------------------


def test_rotation_downloads_the_new_key_and_grants_what_the_admin_reads(
    recovery_key: RecoveryKey, admin, admin_client, make_editor, tmp_path
) -> None:
    readable = make_tip("the admin reads this")
    # A tip only another editor reads (the admin's grant was taken away).
    bea = make_editor("bea")
    hidden = make_tip("only bea reads this")
    Grant.objects.filter(tip=hidden, recipient__user=admin.user).delete()
    old = recovery_key.recipient

    response = admin_client.post(URL, rotate_form())

    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert re.fullmatch(
        r'attachment; filename="tipline-recovery-key-[0-9a-f]{16}\.txt"',
        response["Content-Disposition"],
    )
    assert "no-store" in response["Cache-Control"]
    new = active_recovery_key()
    assert new is not None and new != old
    assert new.fingerprint in response.content.decode()
    assert new.fingerprint[:16] in response["Content-Disposition"]
    old.refresh_from_db()
    assert not old.active
    # The downloaded file opens with the passphrase and reads what the admin could read...
    private_key = downloaded_key(response, tmp_path)
    assert note_of(readable, new, private_key) == "the admin reads this"
    # ...but not the tip the admin could not read: that stays with the old key (and bea).
    assert not Grant.objects.filter(tip=hidden, recipient=new).exists()
    assert note_of(hidden, old, recovery_key.private_key) == "only bea reads this"
    assert Grant.objects.filter(tip=hidden, recipient__user=bea.user).exists()
    # Old grants are kept: if the new file is lost, the old one still opens everything.
    assert note_of(readable, old, recovery_key.private_key) == "the admin reads this"

    entry = AuditEntry.objects.get(action=Action.RECOVERY_KEY_ROTATED)
    assert entry.actor == "root"
    assert entry.detail == {
        "fingerprint": new.fingerprint,
        "previous": old.fingerprint,
        "tips_granted": 1,
        "tips_not_granted": 1,
    }
    assert audit_verify().intact

    # The result is on the next page, and the gap is visible there.
    body = admin_client.get(URL).content.decode()
    assert f"New recovery key {new.fingerprint}: 1 tip was granted to it." in body
    assert "1 tip you cannot read stays readable only by the old recovery key" in body
    assert "1 of 2" in body


def test_new_tips_go_to_the_new_key_only(recovery_key: RecoveryKey, admin, admin_client) -> None:
    admin_client.post(URL, rotate_form())
    tip = make_tip()
    assert Grant.objects.filter(tip=tip, recipient=active_recovery_key()).exists()
    assert not Grant.objects.filter(tip=tip, recipient=recovery_key.recipient).exists()


@pytest.mark.django_db(transaction=True)
def test_the_private_key_is_stored_nowhere(recovery_key: RecoveryKey, admin, admin_client) -> None:
    response = admin_client.post(URL, rotate_form())
    sealed = dearmor_recovery_key(response.content.decode())
    new = active_recovery_key()
    assert new.sealed_private_key is None
    connection.close()
    name = Path(connection.settings_dict["NAME"])
    contents = b"".join(path.read_bytes() for path in (name, Path(f"{name}-wal")) if path.exists())
    assert sealed[:64] not in contents
    assert response.content[-200:] not in contents


def test_creating_the_first_key_from_the_page(admin, admin_client, tmp_path) -> None:
    tip = make_tip()  # the admin reads it
    without_recovery_key()
    response = admin_client.post(URL, rotate_form())
    new = active_recovery_key()
    assert new is not None
    assert note_of(tip, new, downloaded_key(response, tmp_path)) == "the note"
    entry = AuditEntry.objects.get(action=Action.RECOVERY_KEY_ROTATED)
    assert entry.detail["previous"] == ""


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (rotate_form(again="something else entirely"), "differ"),
        (rotate_form("too short"), "at least 12"),
        ({"passphrase": "", "passphrase_again": ""}, "required"),
    ],
)
def test_refused_passphrases_rotate_nothing(
    recovery_key: RecoveryKey, admin, admin_client, data, error
) -> None:
    response = admin_client.post(URL, data)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert error in response.content.decode()
    assert active_recovery_key() == recovery_key.recipient
    assert RecipientKey.objects.filter(kind="recovery").count() == 1
    assert not AuditEntry.objects.filter(action=Action.RECOVERY_KEY_ROTATED).exists()


def test_csrf_is_enforced_on_rotation(recovery_key: RecoveryKey, admin) -> None:
    client = signed_in_client(admin)
    client.handler.enforce_csrf_checks = True
    client.get(URL)
    assert client.post(URL, rotate_form()).status_code == 403
    assert active_recovery_key() == recovery_key.recipient


def test_the_service_refuses_a_key_that_is_not_the_editors(admin, make_editor) -> None:
    from tipline.audit import COMMAND_LINE_ACTOR
    from tipline.crypto import PrivateKey
    from tipline.keyring import recovery_key_rotate

    recipient = RecipientKey.objects.get(user=admin.user)
    before = active_recovery_key()
    with pytest.raises(KeyringError):
        recovery_key_rotate(
            actor=COMMAND_LINE_ACTOR,
            passphrase=NEW_PASSPHRASE,
            editor_recipient=recipient,
            editor_private_key=PrivateKey.generate(),
        )
    assert active_recovery_key() == before


def test_the_tip_page_says_whether_the_current_recovery_key_reads_it(
    recovery_key: RecoveryKey, admin, admin_client, make_editor
) -> None:
    bea = make_editor("bea")
    shared = make_tip()
    hidden = make_tip()
    Grant.objects.filter(tip=hidden, recipient__user=admin.user).delete()
    bea_browser = signed_in_client(bea)
    assert (
        "recovery key can read it too"
        in bea_browser.get(f"/staff/tips/{hidden.reference}/").content.decode()
    )

    admin_client.post(URL, rotate_form())

    body = bea_browser.get(f"/staff/tips/{hidden.reference}/").content.decode()
    assert "The current recovery key cannot read this tip" in body
    body = bea_browser.get(f"/staff/tips/{shared.reference}/").content.decode()
    assert "recovery key can read it too" in body
