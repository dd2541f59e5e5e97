"""Opening a tip is on record once per opening, not again on the page shown after a change (#16).

The tip page is shown again after every change made on it (POST, then a
redirect back). Those showings are not new readings: the change is on record,
and so is the opening it was made from. Any other showing is an opening.
"""

from __future__ import annotations

import pytest

from tests.triage.helpers import granted_tip, signed_in_client
from tipline.audit import Action, audit_verify
from tipline.conversation.services import conversation_start
from tipline.crypto import new_tip_key
from tipline.models import AuditEntry, Tip

pytestmark = pytest.mark.django_db


def make_tip(*, conversation: bool = False) -> Tip:
    tip_key = new_tip_key()
    tip = granted_tip(tip_key=tip_key)
    if conversation:
        conversation_start(tip=tip, tip_key=tip_key, language="en")
    return tip


def entries(tip: Tip) -> list[str]:
    return list(
        AuditEntry.objects.filter(tip_reference=tip.reference)
        .order_by("id")
        .values_list("action", flat=True)
    )


def opened(tip: Tip) -> int:
    return entries(tip).count(Action.TIP_VIEWED)


def test_open_then_change_status_note_and_tags_is_the_changes_and_one_opening(
    editor, editor_client
) -> None:
    tip = make_tip()
    url = f"/staff/tips/{tip.reference}/"
    assert editor_client.get(url).status_code == 200
    # Each change as a browser makes it: the POST, then the page it is sent back to.
    for action, data in (
        ("status", {"status": "in_review"}),
        ("notes", {"body": "call the harbour master"}),
        ("tags", {"tags": "harbour"}),
        ("status", {"status": "verified"}),
    ):
        response = editor_client.post(f"{url}{action}/", data, follow=True)
        assert response.status_code == 200
        assert response.redirect_chain == [(url, 302)]
    assert entries(tip) == [
        Action.TIP_VIEWED,
        Action.STATUS_CHANGED,
        Action.NOTE_ADDED,
        Action.TAGS_CHANGED,
        Action.STATUS_CHANGED,
    ]
    assert audit_verify().intact


def test_opening_the_tip_again_is_a_new_opening(editor, editor_client) -> None:
    tip = make_tip()
    url = f"/staff/tips/{tip.reference}/"
    editor_client.get(url)
    editor_client.post(f"{url}status/", {"status": "in_review"}, follow=True)
    editor_client.get("/staff/")
    editor_client.get(url)  # from the inbox, a link, a bookmark: a reading
    assert opened(tip) == 2
    editor_client.get(url)  # reloaded: shown again without a change, so a reading too
    assert opened(tip) == 3


def test_a_change_made_without_an_opening_on_record_leaves_the_next_showing_recorded(
    editor, editor_client
) -> None:
    """The suppression needs this session's last recorded opening to be this tip: a
    change posted from elsewhere (another tab's old page, a script) cannot hide a reading."""
    first, second = make_tip(), make_tip()
    editor_client.get(f"/staff/tips/{first.reference}/")
    editor_client.get(f"/staff/tips/{second.reference}/")  # the last opening is now the second
    editor_client.post(f"/staff/tips/{first.reference}/status/", {"status": "verified"})
    editor_client.get(f"/staff/tips/{first.reference}/")
    assert opened(first) == 2


def test_a_change_posted_without_any_opening_does_not_hide_the_first_one(editor) -> None:
    client = signed_in_client(editor)
    tip = make_tip()
    url = f"/staff/tips/{tip.reference}/"
    client.post(f"{url}status/", {"status": "verified"})
    client.get(url)
    assert opened(tip) == 1


def test_each_session_records_its_own_opening(editor) -> None:
    tip = make_tip()
    url = f"/staff/tips/{tip.reference}/"
    laptop, phone = signed_in_client(editor), signed_in_client(editor)
    laptop.get(url)
    laptop.post(f"{url}status/", {"status": "in_review"})
    phone.get(url)  # the marker of the laptop's session means nothing here
    laptop.get(url)  # the laptop's page shown again after its change
    assert opened(tip) == 2


def test_replies_on_the_conversation_go_back_without_a_new_opening(editor, editor_client) -> None:
    tip = make_tip(conversation=True)
    url = f"/staff/tips/{tip.reference}/"
    editor_client.get(url)
    editor_client.post(f"{url}conversation/close/", follow=True)
    assert entries(tip) == [Action.TIP_VIEWED, Action.CONVERSATION_CLOSED]
