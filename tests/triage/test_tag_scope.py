"""Tag names an editor sees come only from tips they can read (docs/staff.md, "Tags").

Issue 13: the inbox's tag filter listed every tag of the installation, so an
editor who was never given a tip still read the label colleagues put on it
("informant-carlos"). The filter now offers only tags of readable tips, and a
tag id typed into the URL by hand filters nothing it should not.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.triage.helpers import signed_in_client
from tipline.crypto import new_tip_key
from tipline.intake.services import tip_create
from tipline.models import Tag, Tip

pytestmark = pytest.mark.django_db

INBOX = "/staff/"
SECRET_TAG = "informant-carlos"


def make_tip() -> Tip:
    """A tip granted to every active editor at this moment (as the source form would)."""
    return tip_create(
        tip_key_id=uuid.uuid4(),
        tip_key=new_tip_key(),
        note="",
        links=(),
        uploads=[],
        arrived_in_flood=False,
    )


@pytest.fixture
def tagged(make_editor):
    """bob's tip tagged "informant-carlos" (before ana existed), one tip both read, and a
    tag no tip carries any more."""
    bob = make_editor("bob")
    hidden = make_tip()
    hidden.tags.add(Tag.objects.create(name=SECRET_TAG))
    ana = make_editor("ana")
    shared = make_tip()
    shared.tags.add(Tag.objects.create(name="drugs"))
    Tag.objects.create(name="left-over-from-a-purged-tip")
    return {"ana": ana, "bob": bob, "hidden": hidden, "shared": shared}


def test_an_editor_never_sees_the_tags_of_tips_they_cannot_read(tagged):
    ana = signed_in_client(tagged["ana"])
    html = ana.get(INBOX).content.decode()
    assert "drugs" in html
    assert SECRET_TAG not in html
    assert "left-over-from-a-purged-tip" not in html
    choices = {label for _value, label in ana.get(INBOX).context["form"].fields["tag"].choices}
    assert choices == {"All tags", "drugs"}


def test_the_editor_who_can_read_the_tip_sees_its_tag(tagged):
    html = signed_in_client(tagged["bob"]).get(INBOX).content.decode()
    assert SECRET_TAG in html and "drugs" in html


def test_a_hidden_tag_id_in_the_url_shows_neither_its_name_nor_its_tips(tagged):
    ana = signed_in_client(tagged["ana"])
    secret = Tag.objects.get(name=SECRET_TAG)
    for group in ("", "1"):
        response = ana.get(INBOX, {"tag": secret.pk, "flood": group})
        html = response.content.decode()
        assert response.status_code == 200
        assert SECRET_TAG not in html
        assert tagged["hidden"].reference not in html
        assert response.context["form"].errors  # refused as a choice, not applied


def test_a_tag_appears_once_the_tip_is_shared(tagged):
    ana_client = signed_in_client(tagged["ana"])
    ana_key = tagged["ana"].user.recipient_keys.get(active=True)
    response = signed_in_client(tagged["bob"]).post(
        f"/staff/tips/{tagged['hidden'].reference}/access/", {"recipient": ana_key.pk}
    )
    assert response.status_code == 302
    assert SECRET_TAG in ana_client.get(INBOX).content.decode()


def test_the_tag_choices_cost_the_same_queries_whatever_the_tags(tagged):
    """Listed tags come from one query, not one per tag or per tip."""
    ana = signed_in_client(tagged["ana"])
    ana.get(INBOX)  # warm the session
    for number in range(30):
        make_tip().tags.add(Tag.objects.create(name=f"t{number}"))
    with CaptureQueriesContext(connection) as few:
        ana.get(INBOX)
    for number in range(30, 60):
        make_tip().tags.add(Tag.objects.create(name=f"t{number}"))
    with CaptureQueriesContext(connection) as many:
        ana.get(INBOX)
    assert len(many) == len(few)
