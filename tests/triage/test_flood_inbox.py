"""Tips that arrived during a flood: listed apart, counted, paged by key, discarded at once."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.triage.helpers import signed_in_client
from tests.triage.test_inbox import (
    _inbox_queries,
    counts,
    grant_of,
    listed,
    make_tip,
    newer_link,
    older_link,
    walk,
)
from tipline.models import AuditEntry, Tag, Tip

pytestmark = pytest.mark.django_db

INBOX = "/staff/"
FLOOD = "/staff/?flood=1"
DISCARD = "/staff/flood/discard/"


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr("tipline.triage.views.inbox.PAGE_SIZE", 4)
    return 4


@pytest.fixture
def mixed(editor):
    """Three ordinary tips and five that arrived during a flood, interleaved."""
    tips = {"real": [], "junk": []}
    for n in range(8):
        flood = n % 3 != 0
        tips["junk" if flood else "real"].append(make_tip(note=f"tip {n}", flood=flood))
    return tips


def refs(tips: list[Tip]) -> list[str]:
    return [tip.reference for tip in reversed(tips)]  # newest first, as listed


# --- Two groups -----------------------------------------------------------------------------


def test_the_inbox_lists_only_tips_not_in_a_flood(mixed, editor_client) -> None:
    response = editor_client.get(INBOX)
    assert listed(response) == refs(mixed["real"])
    body = response.content.decode()
    assert "Arrived during a flood (5)" in body
    assert 'href="?flood=1"' in body
    assert counts(response)["new"] == 3


def test_the_flood_group_lists_only_flood_tips(mixed, editor_client) -> None:
    response = editor_client.get(FLOOD)
    assert listed(response) == refs(mixed["junk"])
    assert counts(response)["new"] == 5
    body = response.content.decode()
    assert "<h1>Arrived during a flood</h1>" in body
    assert 'href="?"' in body and 'Inbox <span class="count">3</span>' in body
    assert 'action="/staff/flood/discard/"' in body and 'name="confirm"' in body
    assert not response.context["form"].is_bound  # the group is not a filter


def test_the_discard_form_is_only_in_the_flood_group(mixed, editor_client) -> None:
    assert "/staff/flood/discard/" not in editor_client.get(INBOX).content.decode()


def test_each_group_counts_under_the_other_filters(mixed, editor, editor_client) -> None:
    tag = Tag.objects.create(name="ports")
    for tip in (mixed["real"][0], *mixed["junk"][:2]):
        tip.tags.add(tag)
    Tip.objects.filter(pk=mixed["junk"][0].pk).update(status=Tip.Status.VERIFIED)

    response = editor_client.get(INBOX, {"tag": tag.pk})
    assert listed(response) == [mixed["real"][0].reference]
    assert "Arrived during a flood (2)" in response.content.decode()
    response = editor_client.get(INBOX, {"tag": tag.pk, "flood": "1", "status": "verified"})
    assert listed(response) == [mixed["junk"][0].reference]
    assert counts(response) == {
        "new": 1,
        "in_review": 0,
        "verified": 1,
        "published": 0,
        "discarded": 0,
    }
    # The link back keeps the filters and the status, without the group.
    groups = response.context["groups"]
    assert groups["inbox_query"] == f"tag={tag.pk}&status=verified"
    assert groups["inbox_count"] == "0"


def test_an_editor_sees_only_the_flood_tips_they_can_read(mixed, editor, make_editor) -> None:
    bob = make_editor("bob")
    bobs = make_tip(note="bob's flood tip", flood=True)
    grant_of(bobs, editor).delete()
    grant_of(mixed["junk"][0], editor).delete()
    ana = signed_in_client(editor)
    assert listed(ana.get(FLOOD)) == refs(mixed["junk"][1:])
    assert "Arrived during a flood (4)" in ana.get(INBOX).content.decode()
    assert listed(signed_in_client(bob).get(FLOOD)) == [bobs.reference]


# --- Paging by key, and a fixed number of queries, in both groups -------------------------------


def test_the_flood_group_pages_by_key_and_keeps_the_group(editor, editor_client, small_pages):
    tips = [make_tip(note=f"t{n}", flood=n % 4 != 0) for n in range(24)]
    flood_tips = [tip for tip in tips if tip.arrived_in_flood]
    real_tips = [tip for tip in tips if not tip.arrived_in_flood]

    first = editor_client.get(FLOOD)
    assert older_link(first).startswith(f"{FLOOD}&before=")
    pages = walk(editor_client, FLOOD, older_link)
    assert [ref for page in pages for ref in page] == refs(flood_tips)
    assert [len(page) for page in pages] == [4, 4, 4, 4, 2]
    last = editor_client.get(FLOOD)
    while older_link(last):
        last = editor_client.get(older_link(last))
    assert last.context["page"].first_position == 17 and last.context["page"].total == 18
    url, back = newer_link(last), []
    while url is not None:
        response = editor_client.get(url)
        back.append(listed(response))
        url, final = newer_link(response), url
    assert final == FLOOD
    assert back == pages[-2::-1]
    # The ordinary group walks its own tips only.
    pages = walk(editor_client, INBOX, older_link)
    assert [ref for page in pages for ref in page] == refs(real_tips)


def test_status_tabs_in_the_flood_group_keep_the_group(mixed, editor_client) -> None:
    response = editor_client.get(FLOOD)
    assert all("flood=1" in query for _v, _l, _c, query in response.context["tabs"])
    assert "flood=1" in response.context["all_tab_query"]


def test_both_groups_cost_the_same_queries_for_3_and_60_tips(editor, editor_client) -> None:
    for n in range(3):
        make_tip(flood=bool(n % 2))
    _inbox_queries(editor_client)  # warm up
    few = (_inbox_queries(editor_client), _inbox_queries(editor_client, FLOOD))
    tips = [make_tip(note="deep", flood=bool(n % 2)) for n in range(120)]
    many = (_inbox_queries(editor_client), _inbox_queries(editor_client, FLOOD))
    assert few == many and few[0] == few[1]
    deep = f"{FLOOD}&before={tips[-80].pk}"
    assert _inbox_queries(editor_client, deep) == few[1]
    assert _inbox_queries(editor_client, f"{FLOOD}&after={tips[5].pk}") == few[1]


# --- Bulk status from the flood group ------------------------------------------------------------


def test_bulk_status_works_on_flood_tips_and_comes_back_to_the_group(mixed, editor_client):
    one = mixed["junk"][0]
    response = editor_client.post(
        "/staff/bulk-status/", {"tips": [one.reference], "status": "in_review", "flood": "1"}
    )
    assert response.status_code == 302 and response["Location"] == FLOOD
    one.refresh_from_db()
    assert one.status == Tip.Status.IN_REVIEW


# --- Discarding a flood ----------------------------------------------------------------------------


def test_discarding_the_flood_changes_only_new_flood_tips_the_editor_can_read(
    mixed, editor, make_editor
) -> None:
    bob = make_editor("bob")
    bobs = make_tip(note="only bob reads this one", flood=True)
    grant_of(bobs, editor).delete()
    assert not bobs.grants.filter(recipient__user=editor.user).exists()
    kept = mixed["junk"][1]  # someone found a real source in the flood
    Tip.objects.filter(pk=kept.pk).update(status=Tip.Status.VERIFIED)
    client = signed_in_client(editor)

    response = client.post(DISCARD, {"confirm": "on"}, follow=True)
    assert response.redirect_chain == [(FLOOD, 302)]
    assert "4 tips that arrived during a flood were discarded." in response.content.decode()

    status = dict(Tip.objects.values_list("pk", "status"))
    assert {status[tip.pk] for tip in mixed["real"]} == {"new"}
    assert status[kept.pk] == "verified"
    assert status[bobs.pk] == "new"
    discarded = [tip for tip in mixed["junk"] if tip.pk != kept.pk]
    assert {status[tip.pk] for tip in discarded} == {"discarded"}
    # The retention period of "discarded" starts today for each of them.
    days = set(Tip.objects.filter(status="discarded").values_list("status_changed_on", flat=True))
    assert len(days) == 1
    [entry] = AuditEntry.objects.filter(action="flood_discarded")
    assert (entry.actor, entry.detail, entry.tip_reference) == ("ana", {"count": 4}, "")
    assert not AuditEntry.objects.filter(action="status_changed").exists()
    assert counts(signed_in_client(bob).get(FLOOD))["new"] == 1


def test_discarding_needs_the_box_ticked(mixed, editor_client) -> None:
    response = editor_client.post(DISCARD, {}, follow=True)
    assert response.redirect_chain == [(FLOOD, 302)]
    assert "Tick the box to confirm discarding the flood." in response.content.decode()
    assert not Tip.objects.filter(status="discarded").exists()
    assert not AuditEntry.objects.filter(action="flood_discarded").exists()


def test_discarding_answers_post_only(mixed, editor_client) -> None:
    assert editor_client.get(DISCARD).status_code == 405
    assert not Tip.objects.filter(status="discarded").exists()


def test_discarding_needs_the_csrf_token(mixed, editor) -> None:
    client = signed_in_client(editor)
    client.handler.enforce_csrf_checks = True
    assert client.post(DISCARD, {"confirm": "on"}).status_code == 403
    assert not Tip.objects.filter(status="discarded").exists()


def test_discarding_needs_a_signed_in_editor(mixed) -> None:
    response = Client().post(DISCARD, {"confirm": "on"})
    assert response.status_code == 302 and response["Location"].startswith("/staff/login/")
    assert not Tip.objects.filter(status="discarded").exists()


def test_discarding_twice_discards_nothing_more(mixed, editor_client) -> None:
    editor_client.post(DISCARD, {"confirm": "on"})
    response = editor_client.post(DISCARD, {"confirm": "on"}, follow=True)
    assert "0 tips that arrived during a flood were discarded." in response.content.decode()
    details = list(
        AuditEntry.objects.filter(action="flood_discarded")
        .order_by("id")
        .values_list("detail", flat=True)
    )
    assert details == [{"count": 5}, {"count": 0}]


def test_the_audit_page_names_the_action(mixed, editor, admin_client) -> None:
    signed_in_client(editor).post(DISCARD, {"confirm": "on"})
    body = admin_client.get("/staff/audit/").content.decode()
    assert "Discarded 5 tips that arrived during a flood." in body
