"""An admin's "take away access" sticks until an admin lifts it, whatever path shares.

The attack of issue 13: the admin took bob's access to a tip away; any editor
who could read the tip gave it straight back ("Give access"), or restored it
silently with "Share the tips I can read". A revocation is now recorded
against bob's account (not his key, which a password change replaces) and
every path that shares refuses while it stands; only an admin lifts it.
"""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from tests.triage.helpers import signed_in_client
from tipline.audit import COMMAND_LINE_ACTOR, audit_verify
from tipline.crypto import PrivateKey, new_tip_key
from tipline.intake.services import tip_create
from tipline.keyring import recipient_key_register
from tipline.models import AuditEntry, Grant, RecipientKey, Tip

pytestmark = pytest.mark.django_db


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


def key_of(account) -> RecipientKey:
    return RecipientKey.objects.get(user=account.user, kind="editor", active=True)


def tip_url(tip: Tip, action: str = "") -> str:
    return f"/staff/tips/{tip.reference}/{action + '/' if action else ''}"


def revoke_url(tip: Tip, account) -> str:
    return tip_url(tip, f"access/{key_of(account).pk}/revoke")


def lift_url(tip: Tip, account) -> str:
    return tip_url(tip, f"access/revocations/{account.user.pk}/lift")


def share_all_url(account) -> str:
    return f"/staff/editors/{account.user.pk}/grant-my-tips/"


def can_read(account, tip: Tip) -> bool:
    """Whether any key of the account has a grant for the tip."""
    return Grant.objects.filter(tip=tip, recipient__user=account.user).exists()


def grants_added_to(name: str, tip: Tip) -> int:
    return AuditEntry.objects.filter(
        action="grant_added", tip_reference=tip.reference, detail={"to": name}
    ).count()


@pytest.fixture
def revoked(open_tipline, admin, editor, make_editor):
    """A tip root and ana got on arrival; bob was given it by ana, then root took it away."""
    tip = make_tip(note="bob must not read this any more")
    bob = make_editor("bob")
    signed_in_client(editor).post(tip_url(tip, "access"), {"recipient": key_of(bob).pk})
    assert can_read(bob, tip)
    response = signed_in_client(admin).post(revoke_url(tip, bob))
    assert response.status_code == 302
    assert not can_read(bob, tip)
    return tip, bob


# --- Every path that shares refuses --------------------------------------------------------


def test_an_editor_cannot_give_a_revoked_tip_back(revoked, editor):
    tip, bob = revoked
    ana = signed_in_client(editor)
    shares_before = grants_added_to("bob", tip)
    response = ana.post(tip_url(tip, "access"), {"recipient": key_of(bob).pk}, follow=True)
    assert response.status_code == 200
    assert "cannot be given access" in response.content.decode()
    assert not can_read(bob, tip)
    assert signed_in_client(bob).get(tip_url(tip)).status_code == 404
    # Nothing in the log says it was shared.
    assert grants_added_to("bob", tip) == shares_before
    # Nor is bob offered on the tip page any more.
    form = ana.get(tip_url(tip)).context["grant_form"]
    assert key_of(bob).pk not in {value for value, _label in form.fields["recipient"].choices}


def test_sharing_the_tips_i_can_read_skips_revoked_ones(revoked, editor):
    tip, bob = revoked
    other = make_tip(note="bob may have this one")  # ana, root and bob get it on arrival
    Grant.objects.filter(tip=other, recipient__user=bob.user).delete()
    later = make_tip(note="and this one")
    Grant.objects.filter(tip=later, recipient__user=bob.user).delete()
    shares_before = grants_added_to("bob", tip)

    response = signed_in_client(editor).post(share_all_url(bob), follow=True)
    assert "2 tips you can read were shared with bob" in response.content.decode()
    assert can_read(bob, other) and can_read(bob, later)
    assert not can_read(bob, tip)
    assert grants_added_to("bob", tip) == shares_before


def test_an_admin_who_can_read_the_tip_cannot_share_it_back_either(revoked, admin):
    """Not even an admin's share: the revocation is lifted on purpose, and audited, first."""
    tip, bob = revoked
    root = signed_in_client(admin)
    root.post(tip_url(tip, "access"), {"recipient": key_of(bob).pk})
    root.post(share_all_url(bob))
    assert not can_read(bob, tip)


def test_the_service_refuses_whoever_calls_it(revoked, editor):
    """The guarantee is in ``tip_grant_add``, where every share ends, not in a page."""
    from tipline.accounts.signin import private_key_unseal
    from tipline.keyring import tip_key_unwrap
    from tipline.triage.grants import AccessRevoked, tip_grant_add

    tip, bob = revoked
    private_key = private_key_unseal(user=editor.user, password=editor.password)
    tip_key = tip_key_unwrap(tip=tip, recipient=key_of(editor), private_key=private_key)
    with pytest.raises(AccessRevoked):
        tip_grant_add(tip=tip, tip_key=tip_key, recipient=key_of(bob), actor=COMMAND_LINE_ACTOR)
    assert not can_read(bob, tip)


def test_a_revocation_outlives_a_new_key_pair(revoked, editor):
    """A password change makes a new key pair: the revocation names the account, not the key."""
    tip, bob = revoked
    RecipientKey.objects.filter(user=bob.user).update(active=False)
    new_key = recipient_key_register(
        kind=RecipientKey.Kind.EDITOR,
        public_key=PrivateKey.generate().public_key(),
        user=bob.user,
        sealed_private_key=b"",
    )
    ana = signed_in_client(editor)
    ana.post(tip_url(tip, "access"), {"recipient": new_key.pk})
    ana.post(share_all_url(bob))
    assert not Grant.objects.filter(tip=tip, recipient=new_key).exists()


def test_revoking_takes_the_grants_of_every_key_of_the_account(open_tipline, admin, make_editor):
    bob = make_editor("bob")
    tip = make_tip()
    old_key = key_of(bob)
    RecipientKey.objects.filter(pk=old_key.pk).update(active=False)
    new_key = recipient_key_register(
        kind=RecipientKey.Kind.EDITOR,
        public_key=PrivateKey.generate().public_key(),
        user=bob.user,
        sealed_private_key=b"",
    )
    Grant.objects.create(tip=tip, recipient=new_key, wrapped_key=b"x")
    signed_in_client(admin).post(tip_url(tip, f"access/{new_key.pk}/revoke"))
    assert not can_read(bob, tip)


# --- Who lifts, and what lifting does ------------------------------------------------------


def test_an_admin_lifts_the_revocation_then_sharing_works(revoked, admin, editor):
    tip, bob = revoked
    root = signed_in_client(admin)
    response = root.post(lift_url(tip, bob), follow=True)
    assert response.status_code == 200
    assert "bob may be given access to this tip again" in response.content.decode()
    # Lifting gives no access by itself.
    assert not can_read(bob, tip)
    entry = AuditEntry.objects.get(action="revocation_lifted")
    assert (entry.actor, entry.tip_reference, entry.detail) == (
        "root",
        tip.reference,
        {"for": "bob"},
    )

    signed_in_client(editor).post(tip_url(tip, "access"), {"recipient": key_of(bob).pk})
    assert can_read(bob, tip)
    page = signed_in_client(bob).get(tip_url(tip))
    assert page.status_code == 200
    assert "bob must not read this any more" in page.content.decode()
    assert audit_verify().intact


def test_lifting_twice_records_once(revoked, admin):
    tip, bob = revoked
    root = signed_in_client(admin)
    root.post(lift_url(tip, bob))
    root.post(lift_url(tip, bob))
    assert AuditEntry.objects.filter(action="revocation_lifted").count() == 1


def test_an_editor_who_is_not_admin_cannot_lift(revoked, editor):
    tip, bob = revoked
    for client in (signed_in_client(editor), signed_in_client(bob)):
        assert client.post(lift_url(tip, bob)).status_code == 403
    assert not AuditEntry.objects.filter(action="revocation_lifted").exists()
    signed_in_client(editor).post(tip_url(tip, "access"), {"recipient": key_of(bob).pk})
    assert not can_read(bob, tip)


def test_the_lifting_service_refuses_anyone_but_an_active_admin(revoked, editor, admin):
    from django.core.exceptions import PermissionDenied

    from tipline.triage.grants import tip_revocation_lift

    tip, bob = revoked
    with pytest.raises(PermissionDenied):
        tip_revocation_lift(tip=tip, user=bob.user, admin=editor.user)
    admin.user.is_active = False
    with pytest.raises(PermissionDenied):
        tip_revocation_lift(tip=tip, user=bob.user, admin=admin.user)
    assert not AuditEntry.objects.filter(action="revocation_lifted").exists()


def test_lifting_needs_a_signed_in_admin_a_post_and_the_csrf_token(revoked, admin):
    tip, bob = revoked
    assert Client().post(lift_url(tip, bob)).status_code == 302  # to the sign-in page
    root = signed_in_client(admin)
    assert root.get(lift_url(tip, bob)).status_code == 405
    root.handler.enforce_csrf_checks = True
    assert root.post(lift_url(tip, bob)).status_code == 403
    assert not AuditEntry.objects.filter(action="revocation_lifted").exists()


def test_an_admin_who_cannot_read_the_tip_cannot_lift(revoked, make_editor):
    tip, bob = revoked
    late_admin = make_editor("late", admin=True)  # after the tip: no grant
    assert signed_in_client(late_admin).post(lift_url(tip, bob)).status_code == 404
    assert not AuditEntry.objects.filter(action="revocation_lifted").exists()


# --- What the tip page shows ----------------------------------------------------------------


def test_the_tip_page_shows_the_revocation_to_admins_only(revoked, admin, editor):
    tip, bob = revoked
    admin_page = signed_in_client(admin).get(tip_url(tip)).content.decode()
    assert "Access taken away" in admin_page
    assert lift_url(tip, bob) in admin_page
    assert "bob, by root on" in admin_page
    editor_page = signed_in_client(editor).get(tip_url(tip)).content.decode()
    assert lift_url(tip, bob) not in editor_page
    assert "bob, by root" not in editor_page


def test_a_revoked_tip_is_purged_with_its_revocation(revoked, settings):
    """The revocation refers to the tip: the purge deletes it with the tip's other rows."""
    from tipline.models import RetentionPolicy
    from tipline.retention.purge import tips_purge_expired

    tip, _bob = revoked
    policy = RetentionPolicy.current()
    policy.default_days = 1
    policy.save()
    Tip.objects.filter(pk=tip.pk).update(status_changed_on="2000-01-01")
    tips_purge_expired()
    assert not Tip.objects.filter(pk=tip.pk).exists()
    from tipline.models import GrantRevocation

    assert not GrantRevocation.objects.exists()
