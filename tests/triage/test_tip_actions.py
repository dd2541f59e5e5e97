"""What editors change on a tip: status, assignee, tags, internal notes, and who may read it.

Every change is a POST to its own URL that redirects back to the tip page and
leaves an audit entry naming the action and the tip, never tip content. The
internal note is encrypted under the tip key like the tip itself. Access is
given by unwrapping with one's own key and wrapping to the newcomer; only
admins take it away, never from themselves nor from the recovery key.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from tests.triage.helpers import EDITOR_PASSWORD, signed_in_client
from tipline.accounts.services import editor_deactivate
from tipline.accounts.signin import private_key_unseal
from tipline.audit import COMMAND_LINE_ACTOR
from tipline.crypto import CryptoError, new_tip_key
from tipline.intake.services import tip_create
from tipline.keyring import tip_key_unwrap
from tipline.models import AuditEntry, EditorNote, Grant, RecipientKey, Tag, Tip
from tipline.sealed import editor_note_open

pytestmark = pytest.mark.django_db

NOTE_TEXT = "Internal: the caller is probably the harbour pilot, check with Ruiz"


def make_tip(note: str = "the note") -> Tip:
    """A tip granted to every active recipient now (editors, recovery key), as the form does."""
    return tip_create(
        tip_key_id=uuid.uuid4(),
        tip_key=new_tip_key(),
        note=note,
        links=[],
        uploads=[],
        arrived_in_flood=False,
    )


def tip_key_of(tip: Tip, account) -> bytes:
    private_key = private_key_unseal(user=account.user, password=EDITOR_PASSWORD)
    recipient = RecipientKey.objects.get(user=account.user, active=True)
    return tip_key_unwrap(tip=tip, recipient=recipient, private_key=private_key)


def key_of(account) -> RecipientKey:
    return RecipientKey.objects.get(user=account.user, kind="editor", active=True)


def url(tip: Tip, action: str = "") -> str:
    return f"/staff/tips/{tip.reference}/{action + '/' if action else ''}"


def assert_back_to_tip(response, tip: Tip) -> None:
    assert response.status_code == 302
    assert response["Location"] == url(tip)


def audit_text() -> str:
    """Everything the audit log holds, as one string."""
    rows = AuditEntry.objects.values("actor", "action", "tip_reference", "detail")
    return json.dumps(list(rows), ensure_ascii=False)


@pytest.fixture
def tip(editor) -> Tip:
    return make_tip()


# --- Status ----------------------------------------------------------------------------


def test_status_change_redirects_back_and_is_audited(tip, editor, editor_client):
    response = editor_client.post(url(tip, "status"), {"status": "in_review"})
    assert_back_to_tip(response, tip)
    tip.refresh_from_db()
    assert tip.status == "in_review"
    entry = AuditEntry.objects.get(action="status_changed")
    assert entry.tip_reference == tip.reference
    assert entry.actor == editor.username
    assert entry.detail == {"from": "new", "to": "in_review"}


@pytest.mark.parametrize("status", ["", "deleted", "NEW", "<b>"])
def test_an_unknown_status_changes_nothing(tip, editor_client, status):
    response = editor_client.post(url(tip, "status"), {"status": status})
    assert_back_to_tip(response, tip)
    tip.refresh_from_db()
    assert tip.status == "new"
    assert not AuditEntry.objects.filter(action="status_changed").exists()


# --- Assignee --------------------------------------------------------------------------


def test_assign_to_a_colleague_and_back_to_nobody(tip, editor, make_editor, editor_client):
    bob = make_editor("bob")
    response = editor_client.post(url(tip, "assignee"), {"assignee": str(bob.user.pk)})
    assert_back_to_tip(response, tip)
    tip.refresh_from_db()
    assert tip.assignee_id == bob.user.pk

    assert_back_to_tip(editor_client.post(url(tip, "assignee"), {"assignee": ""}), tip)
    tip.refresh_from_db()
    assert tip.assignee is None

    entries = AuditEntry.objects.filter(action="assignee_changed", tip_reference=tip.reference)
    assert [entry.detail for entry in entries] == [{"to": "bob"}, {"to": ""}]
    assert {entry.actor for entry in entries} == {editor.username}


def test_only_active_staff_can_be_assigned(tip, make_editor, editor_client):
    from django.contrib.auth import get_user_model

    outsider = get_user_model().objects.create_user("outsider", password="x" * 20)
    gone = make_editor("gone")
    editor_deactivate(user=gone.user, actor=COMMAND_LINE_ACTOR)
    for user_id in (outsider.pk, gone.user.pk, 999999, "abc"):
        editor_client.post(url(tip, "assignee"), {"assignee": str(user_id)})
    tip.refresh_from_db()
    assert tip.assignee is None
    assert not AuditEntry.objects.filter(action="assignee_changed").exists()


# --- Tags --------------------------------------------------------------------------------


def test_tags_are_parsed_deduplicated_and_reuse_existing_ones(tip, editor, editor_client):
    existing = Tag.objects.create(name="Sinaloa")
    response = editor_client.post(
        url(tip, "tags"), {"tags": " sinaloa, ports ,  Ports,, SINALOA , new   tag "}
    )
    assert_back_to_tip(response, tip)
    names = sorted(tip.tags.values_list("name", flat=True))
    assert names == ["Sinaloa", "new tag", "ports"]
    # The existing tag was reused (matched case-insensitively), not duplicated.
    assert tip.tags.get(name__iexact="sinaloa").pk == existing.pk
    assert Tag.objects.filter(name__iexact="sinaloa").count() == 1
    assert Tag.objects.filter(name__iexact="ports").count() == 1
    entry = AuditEntry.objects.get(action="tags_changed")
    assert entry.tip_reference == tip.reference
    assert entry.actor == editor.username
    assert sorted(entry.detail["tags"]) == ["Sinaloa", "new tag", "ports"]


def test_tags_replace_the_previous_ones_and_empty_clears(tip, editor_client):
    editor_client.post(url(tip, "tags"), {"tags": "one, two"})
    editor_client.post(url(tip, "tags"), {"tags": "two, three"})
    assert sorted(tip.tags.values_list("name", flat=True)) == ["three", "two"]
    editor_client.post(url(tip, "tags"), {"tags": ""})
    assert tip.tags.count() == 0
    assert AuditEntry.objects.filter(action="tags_changed").count() == 3


def test_a_tag_used_on_another_tip_is_shared(editor, editor_client):
    first, second = make_tip(), make_tip()
    editor_client.post(url(first, "tags"), {"tags": "Cartel"})
    editor_client.post(url(second, "tags"), {"tags": "cartel"})
    assert Tag.objects.count() == 1
    assert first.tags.get() == second.tags.get()


def test_overlong_tag_names_are_cut_to_the_column(tip, editor_client):
    editor_client.post(url(tip, "tags"), {"tags": "x" * 60})
    [tag] = tip.tags.all()
    assert 0 < len(tag.name) <= Tag._meta.get_field("name").max_length


# --- Internal notes ------------------------------------------------------------------------


def test_note_is_added_shown_and_audited_without_its_text(tip, editor, editor_client):
    response = editor_client.post(url(tip, "notes"), {"body": NOTE_TEXT})
    assert_back_to_tip(response, tip)
    note = EditorNote.objects.get(tip=tip)
    assert note.author == editor.user
    assert NOTE_TEXT in editor_client.get(url(tip)).content.decode()
    entry = AuditEntry.objects.get(action="note_added")
    assert entry.tip_reference == tip.reference
    assert entry.actor == editor.username
    text = audit_text()
    assert NOTE_TEXT not in text
    assert "harbour pilot" not in text and "Ruiz" not in text


def test_an_empty_note_is_not_saved(tip, editor_client):
    assert_back_to_tip(editor_client.post(url(tip, "notes"), {"body": "   "}), tip)
    assert not EditorNote.objects.exists()
    assert not AuditEntry.objects.filter(action="note_added").exists()


def test_note_is_encrypted_under_the_tip_key_only(editor, editor_client):
    tip, other = make_tip(), make_tip()
    editor_client.post(url(tip, "notes"), {"body": NOTE_TEXT})
    editor_client.post(url(other, "notes"), {"body": "another note"})
    note = EditorNote.objects.get(tip=tip)
    sealed = bytes(note.body_sealed)
    assert NOTE_TEXT.encode() not in sealed
    assert b"harbour" not in sealed and "harbour".encode("utf-16-le") not in sealed

    assert editor_note_open(note, tip_key=tip_key_of(tip, editor)) == NOTE_TEXT
    with pytest.raises(CryptoError):
        editor_note_open(note, tip_key=tip_key_of(other, editor))
    # Nor can the ciphertext be moved to another note of the same tip.
    moved = EditorNote.objects.get(tip=other)
    moved.body_sealed = sealed
    with pytest.raises(CryptoError):
        editor_note_open(moved, tip_key=tip_key_of(other, editor))


def _database_files() -> list[Path]:
    name = Path(settings.DATABASES["default"]["TEST"]["NAME"])
    assert Path(connection.settings_dict["NAME"]) == name, "tests must run on the file database"
    # WAL mode: recent pages live in the -wal file until a checkpoint.
    return [path for path in (name, Path(f"{name}-wal")) if path.exists()]


@pytest.mark.django_db(transaction=True)
def test_note_text_is_nowhere_in_the_database_file(make_editor):
    editor = make_editor("ana")
    client = signed_in_client(editor)
    tip = make_tip()
    canary = "plaintext-canary-tag-7f3a"
    client.post(url(tip, "tags"), {"tags": canary})  # stored in the clear, on purpose
    client.post(url(tip, "notes"), {"body": NOTE_TEXT})
    assert EditorNote.objects.filter(tip=tip).exists()
    connection.close()  # committed and on disk, as a seized server would have it

    contents = b"".join(path.read_bytes() for path in _database_files())
    # The search works: a tag name (not secret) is found...
    assert canary.encode() in contents
    # ...but nothing of the note, in any common encoding.
    for needle in ("harbour pilot", "Ruiz", NOTE_TEXT):
        assert needle.encode("utf-8") not in contents
        assert needle.encode("utf-16-le") not in contents


# --- CSRF and methods -----------------------------------------------------------------------


def _csrf_token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "the tip page has no CSRF token"
    return match.group(1)


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("status", {"status": "verified"}),
        ("tags", {"tags": "forged"}),
        ("notes", {"body": "forged note"}),
        ("assignee", {"assignee": ""}),
    ],
)
def test_csrf_is_enforced_on_tip_changes(tip, editor, action, data):
    client = signed_in_client(editor)
    client.handler.enforce_csrf_checks = True
    Tip.objects.filter(pk=tip.pk).update(assignee=editor.user)
    # The page sets the CSRF cookie: what is missing below is only the token.
    token = _csrf_token(client.get(url(tip)).content.decode())
    assert client.cookies.get(settings.CSRF_COOKIE_NAME)
    before = AuditEntry.objects.count()

    assert client.post(url(tip, action), data).status_code == 403
    forged = {**data, "csrfmiddlewaretoken": "x" * 64}
    assert client.post(url(tip, action), forged).status_code == 403
    tip.refresh_from_db()
    assert tip.status == "new" and not tip.tags.exists() and not EditorNote.objects.exists()
    assert tip.assignee_id == editor.user.pk
    assert AuditEntry.objects.count() == before

    # With the page's own token the same request goes through.
    response = client.post(url(tip, action), {**data, "csrfmiddlewaretoken": token})
    assert_back_to_tip(response, tip)


def test_csrf_is_enforced_on_granting(tip, editor, make_editor):
    bob = make_editor("bob")
    client = signed_in_client(editor)
    client.handler.enforce_csrf_checks = True
    response = client.post(url(tip, "access"), {"recipient": key_of(bob).pk})
    assert response.status_code == 403
    assert not Grant.objects.filter(tip=tip, recipient=key_of(bob)).exists()


@pytest.mark.parametrize("action", ["status", "assignee", "tags", "notes", "access"])
def test_post_only_endpoints_refuse_get(tip, editor_client, action):
    assert editor_client.get(url(tip, action)).status_code == 405


def test_revoke_refuses_get(admin, editor, admin_client):
    tip = make_tip()
    response = admin_client.get(url(tip, f"access/{key_of(editor).pk}/revoke"))
    assert response.status_code == 405
    assert Grant.objects.filter(tip=tip, recipient=key_of(editor)).exists()


def test_the_tip_page_refuses_post(tip, editor_client):
    assert editor_client.post(url(tip)).status_code == 405


def test_changes_need_a_grant(editor, make_editor):
    tip = make_tip()
    bob = make_editor("bob")  # after the tip: no grant
    client = signed_in_client(bob)
    for action, data in [
        ("status", {"status": "discarded"}),
        ("assignee", {"assignee": str(bob.user.pk)}),
        ("tags", {"tags": "mine now"}),
        ("notes", {"body": "hello"}),
        ("access", {"recipient": key_of(bob).pk}),
    ]:
        assert client.post(url(tip, action), data).status_code == 404, action
    tip.refresh_from_db()
    assert tip.status == "new" and tip.assignee is None and not tip.tags.exists()
    assert not EditorNote.objects.exists()
    assert not Grant.objects.filter(tip=tip, recipient=key_of(bob)).exists()
    assert not AuditEntry.objects.filter(tip_reference=tip.reference).exists()


# --- Giving access -----------------------------------------------------------------------


def _offered(client, tip: Tip) -> set[int]:
    form = client.get(url(tip)).context["grant_form"]
    return {value for value, _label in form.fields["recipient"].choices}


def test_only_active_editors_without_a_grant_are_offered(open_tipline, editor, make_editor):
    tip = make_tip()
    bob = make_editor("bob")
    carla = make_editor("carla")
    gone = make_editor("gone")
    editor_deactivate(user=gone.user, actor=COMMAND_LINE_ACTOR)
    offered = _offered(signed_in_client(editor), tip)
    assert offered == {key_of(bob).pk, key_of(carla).pk}
    recovery = RecipientKey.objects.get(kind="recovery", active=True)
    assert recovery.pk not in offered
    assert key_of(editor).pk not in offered


def test_granting_lets_a_later_editor_read_the_tip_with_the_same_key(editor, make_editor):
    tip = make_tip(note="only ana could read this")
    bob = make_editor("bob")
    bob_client = signed_in_client(bob)
    assert bob_client.get(url(tip)).status_code == 404

    response = signed_in_client(editor).post(url(tip, "access"), {"recipient": key_of(bob).pk})
    assert_back_to_tip(response, tip)

    page = bob_client.get(url(tip))
    assert page.status_code == 200
    assert "only ana could read this" in page.content.decode()
    assert tip_key_of(tip, bob) == tip_key_of(tip, editor)
    entry = AuditEntry.objects.get(action="grant_added")
    assert entry.tip_reference == tip.reference
    assert entry.actor == editor.username
    assert entry.detail == {"to": "bob"}
    # bob is no longer offered.
    assert key_of(bob).pk not in _offered(signed_in_client(editor), tip)


def test_granting_to_a_key_not_offered_does_nothing(open_tipline, editor, make_editor):
    tip = make_tip()
    gone = make_editor("gone")
    gone_key = key_of(gone)
    editor_deactivate(user=gone.user, actor=COMMAND_LINE_ACTOR)
    recovery = RecipientKey.objects.get(kind="recovery", active=True)
    pipeline = RecipientKey.objects.get(kind="pipeline", active=True)
    client = signed_in_client(editor)
    grants_before = set(Grant.objects.filter(tip=tip).values_list("recipient_id", flat=True))
    for recipient_id in (gone_key.pk, pipeline.pk, recovery.pk, key_of(editor).pk, 999999):
        assert_back_to_tip(client.post(url(tip, "access"), {"recipient": recipient_id}), tip)
    grants_after = set(Grant.objects.filter(tip=tip).values_list("recipient_id", flat=True))
    assert grants_after == grants_before
    assert not AuditEntry.objects.filter(action="grant_added").exists()


# --- Taking access away ------------------------------------------------------------------------


@pytest.fixture
def shared(open_tipline, admin, editor, make_editor):
    """A tip admin and ana got on arrival, and bob was later given by ana."""
    tip = make_tip(note="shared later")
    bob = make_editor("bob")
    signed_in_client(editor).post(url(tip, "access"), {"recipient": key_of(bob).pk})
    assert Grant.objects.filter(tip=tip, recipient=key_of(bob)).exists()
    return tip, bob


def test_an_admin_takes_access_away(shared, admin, admin_client):
    tip, bob = shared
    bob_client = signed_in_client(bob)
    assert bob_client.get(url(tip)).status_code == 200
    response = admin_client.post(url(tip, f"access/{key_of(bob).pk}/revoke"))
    assert_back_to_tip(response, tip)
    assert not Grant.objects.filter(tip=tip, recipient=key_of(bob)).exists()
    assert bob_client.get(url(tip)).status_code == 404
    assert bob_client.get(url(tip, "files/1")).status_code == 404
    entry = AuditEntry.objects.get(action="grant_revoked")
    assert entry.tip_reference == tip.reference
    assert entry.actor == admin.username
    assert entry.detail == {"from": "bob"}


def test_an_editor_who_is_not_admin_cannot_revoke(shared, editor):
    tip, bob = shared
    response = signed_in_client(editor).post(url(tip, f"access/{key_of(bob).pk}/revoke"))
    assert response.status_code == 403
    assert Grant.objects.filter(tip=tip, recipient=key_of(bob)).exists()
    # Nor their own grant, nor anyone else's.
    response = signed_in_client(bob).post(url(tip, f"access/{key_of(editor).pk}/revoke"))
    assert response.status_code == 403
    assert Grant.objects.filter(tip=tip, recipient=key_of(editor)).exists()
    assert not AuditEntry.objects.filter(action="grant_revoked").exists()


def test_an_admin_cannot_revoke_their_own_grant(shared, admin, admin_client):
    tip, _bob = shared
    response = admin_client.post(url(tip, f"access/{key_of(admin).pk}/revoke"))
    assert_back_to_tip(response, tip)
    assert Grant.objects.filter(tip=tip, recipient=key_of(admin)).exists()
    assert admin_client.get(url(tip)).status_code == 200
    assert not AuditEntry.objects.filter(action="grant_revoked").exists()


def test_the_recovery_grant_is_never_removed(shared, admin, admin_client):
    tip, _bob = shared
    recovery = RecipientKey.objects.get(kind="recovery", active=True)
    response = admin_client.post(url(tip, f"access/{recovery.pk}/revoke"))
    assert response.status_code in {302, 404}
    assert Grant.objects.filter(tip=tip, recipient=recovery).exists()
    assert not AuditEntry.objects.filter(action="grant_revoked").exists()

    from tipline.triage.grants import tip_grant_revoke

    assert tip_grant_revoke(tip=tip, recipient=recovery, actor="root") is False
    assert Grant.objects.filter(tip=tip, recipient=recovery).exists()


def test_an_admin_without_a_grant_cannot_revoke_either(open_tipline, editor, make_editor):
    tip = make_tip()
    late_admin = make_editor("late", admin=True)
    response = signed_in_client(late_admin).post(url(tip, f"access/{key_of(editor).pk}/revoke"))
    assert response.status_code == 404
    assert Grant.objects.filter(tip=tip, recipient=key_of(editor)).exists()


def test_a_revoke_url_of_another_tip_key_is_harmless(shared, admin_client, editor):
    tip, bob = shared
    other = make_tip()  # ana, bob and admin all get it
    response = admin_client.post(url(other, f"access/{key_of(bob).pk}/revoke"))
    assert_back_to_tip(response, other)
    # Only the grant of the tip in the URL went.
    assert Grant.objects.filter(tip=tip, recipient=key_of(bob)).exists()
    assert not Grant.objects.filter(tip=other, recipient=key_of(bob)).exists()
    assert Client().post(url(tip, f"access/{key_of(bob).pk}/revoke")).status_code == 302
    assert Grant.objects.filter(tip=tip, recipient=key_of(bob)).exists()
