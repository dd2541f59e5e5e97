"""The inbox marks tips whose source wrote again, filters on them, and costs no query per mark."""

from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conversation.helpers import come_back, send_tip_for_passphrase
from tests.triage.helpers import signed_in_client
from tipline.conversation.services import conversation_start
from tipline.crypto import new_tip_key
from tipline.intake.services import tip_create
from tipline.models import Conversation, Tip

pytestmark = pytest.mark.django_db

INBOX = "/staff/"
MARK = "Unread message from the source"


def _listed(response) -> list[str]:
    assert response.status_code == 200
    return re.findall(r'href="/staff/tips/([A-Z0-9-]+)/"', response.content.decode())


def _marked(response) -> list[str]:
    """The references whose row carries the unread mark."""
    rows = re.findall(r"<tr>(.*?)</tr>", response.content.decode(), flags=re.S)
    return [
        re.search(r'href="/staff/tips/([A-Z0-9-]+)/"', row).group(1)
        for row in rows
        if MARK in row and "/staff/tips/" in row
    ]


def _source_writes(passphrase: str) -> None:
    source = come_back(passphrase)
    assert source.post("/es/conversation/", {"message": "one more thing"}).status_code == 303


def test_the_inbox_marks_filters_and_opening_clears(open_tipline, editor):
    written = send_tip_for_passphrase(note="the source wrote again")
    send_tip_for_passphrase(note="quiet")
    tips = list(Tip.objects.order_by("id"))
    _source_writes(written)
    staff = signed_in_client(editor)

    page = staff.get(INBOX)
    assert sorted(_listed(page)) == sorted(tip.reference for tip in tips)
    assert _marked(page) == [tips[0].reference]
    assert _listed(staff.get(INBOX, {"unread": "yes"})) == [tips[0].reference]
    assert len(_listed(staff.get(INBOX, {"unread": ""}))) == 2

    assert staff.get(f"/staff/tips/{tips[0].reference}/").status_code == 200
    assert _marked(staff.get(INBOX)) == []
    assert _listed(staff.get(INBOX, {"unread": "yes"})) == []


def test_the_filter_shows_no_unread_tip_the_editor_cannot_read(open_tipline, make_editor):
    # Bea's account is made after the tip: no grant, so its unread mark is not hers to see.
    passphrase = send_tip_for_passphrase()
    _source_writes(passphrase)
    bea = signed_in_client(make_editor("bea"))
    assert _listed(bea.get(INBOX, {"unread": "yes"})) == []
    assert Conversation.objects.get().unread  # and her visit cleared nothing


def _tip_with_conversation(*, unread: bool) -> Tip:
    tip_key = new_tip_key()
    tip = tip_create(
        tip_key_id=uuid.uuid4(),
        tip_key=tip_key,
        note="n",
        links=(),
        uploads=[],
        arrived_in_flood=False,
    )
    conversation_start(tip=tip, tip_key=tip_key, language="en")
    Conversation.objects.filter(tip=tip).update(unread=unread)
    return tip


def _queries(client, params: dict) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(INBOX, params).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("params", [{}, {"unread": "yes"}], ids=["all", "unread-only"])
def test_the_marks_cost_no_query_per_row(open_tipline, editor, params):
    staff = signed_in_client(editor)
    for _ in range(2):
        _tip_with_conversation(unread=True)
    _queries(staff, params)  # warm up
    few = _queries(staff, params)
    for number in range(8):
        _tip_with_conversation(unread=number % 2 == 0)
    many = _queries(staff, params)
    assert many == few
    assert len(_marked(staff.get(INBOX, params))) == 6
