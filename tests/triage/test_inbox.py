"""The inbox: only the editor's own tips, newest first, filtered, counted, paged by key, previewed.

Most tips here are made with the intake service directly (``tip_create``, the
same code the source form ends in, minus the HTTP and the files): sixty tips
through the form would cost seconds for nothing the inbox looks at.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.triage.helpers import TIP_NOTE, send_tip, signed_in_client
from tipline.crypto import new_tip_key
from tipline.intake.services import tip_create
from tipline.models import AuditEntry, Grant, RecipientKey, Tag, Tip

pytestmark = pytest.mark.django_db

INBOX = "/staff/"


def make_tip(note: str = "", links: tuple[str, ...] = (), *, flood: bool = False) -> Tip:
    """A tip granted to every active recipient at this moment (as the source form would).

    An editor is enough for the tip line to be open; the recovery key (slow on
    purpose: Argon2id at 256 MiB) is not needed for anything the inbox shows.
    """
    return tip_create(
        tip_key_id=uuid.uuid4(),
        tip_key=new_tip_key(),
        note=note,
        links=links,
        uploads=[],
        arrived_in_flood=flood,
    )


def listed(response) -> list[str]:
    """The tip references on the page, in the order shown (from the links to tip pages)."""
    assert response.status_code == 200
    return re.findall(r'href="/staff/tips/([A-Z0-9-]+)/"', response.content.decode())


def preview_cells(response) -> list[str]:
    html = response.content.decode()
    return re.findall(r'<td class="preview">(.*?)</td>', html, flags=re.S)


def counts(response) -> dict[str, int]:
    return {value: count for value, _label, count, _query in response.context["tabs"]}


def grant_of(tip: Tip, account) -> Grant:
    return Grant.objects.get(tip=tip, recipient__user=account.user)


# --- Who sees what -------------------------------------------------------------------


def test_only_tips_granted_to_the_editor_are_listed(editor, make_editor):
    before_bob = make_tip(note="for ana only")
    bob = make_editor("bob")
    shared = make_tip(note="for both")
    revoked = make_tip(note="ana's grant was revoked")
    grant_of(revoked, editor).delete()

    ana_sees = listed(signed_in_client(editor).get(INBOX))
    bob_sees = listed(signed_in_client(bob).get(INBOX))

    assert sorted(ana_sees) == sorted([before_bob.reference, shared.reference])
    assert sorted(bob_sees) == sorted([shared.reference, revoked.reference])
    # Nothing of another editor's tip leaks through the preview either.
    assert "for ana only" not in signed_in_client(bob).get(INBOX).content.decode()


def test_a_tip_is_listed_once_however_many_grants_it_has(editor, make_editor):
    for name in ("bob", "carla", "dani"):
        make_editor(name)
    tip = make_tip(note="many readers")
    assert Grant.objects.filter(tip=tip, recipient__kind=RecipientKey.Kind.EDITOR).count() == 4
    assert listed(signed_in_client(editor).get(INBOX)) == [tip.reference]


def test_an_editor_with_no_tips_gets_an_empty_inbox(editor, make_editor):
    make_tip(note="before carla")
    carla = make_editor("carla")
    response = signed_in_client(carla).get(INBOX)
    assert listed(response) == []
    assert "before carla" not in response.content.decode()
    assert all(count == 0 for count in counts(response).values())


def test_newest_first(editor, editor_client):
    tips = [make_tip(note=f"number {i}") for i in range(4)]
    # Same coarse day for all: the order comes from arrival (the primary key).
    assert len({tip.received_on for tip in tips}) == 1
    assert listed(editor_client.get(INBOX)) == [tip.reference for tip in reversed(tips)]


# --- Previews ------------------------------------------------------------------------


def test_preview_is_the_start_of_the_note_on_one_line(editor, editor_client):
    make_tip(note="First line\n\nsecond   line\twith tab")
    [cell] = preview_cells(editor_client.get(INBOX))
    assert cell.strip() == "First line second line with tab"


def test_a_long_note_is_truncated_to_about_140_characters(editor, editor_client):
    note = "".join(f"word{i:03d} " for i in range(100))  # 800 characters
    make_tip(note=note)
    [cell] = preview_cells(editor_client.get(INBOX))
    shown = cell.strip()
    assert shown.endswith("…")
    assert 100 <= len(shown) <= 141
    assert note.startswith(shown[:-1])
    assert "word099" not in shown


def test_a_note_of_exactly_140_characters_is_not_truncated(editor, editor_client):
    note = "x" * 140
    make_tip(note=note)
    [cell] = preview_cells(editor_client.get(INBOX))
    assert cell.strip() == note


def test_an_empty_note_shows_no_preview(editor, editor_client):
    make_tip(note="", links=("https://example.org/only-a-link",))
    response = editor_client.get(INBOX)
    [cell] = preview_cells(response)
    # Only the "(no note)" hint, and no link text passed off as a note.
    assert re.fullmatch(r'\s*<span class="hint">[^<]*</span>\s*', cell), cell
    assert "example.org" not in response.content.decode()
    assert response.context["rows"][0][1] == ""


def test_preview_comes_from_the_real_form_too(editor, editor_client):
    send_tip(note=TIP_NOTE)
    [cell] = preview_cells(editor_client.get(INBOX))
    assert cell.strip() == TIP_NOTE


# --- Filters and counts -----------------------------------------------------------------


@pytest.fixture
def varied(editor, make_editor):
    """Six tips for ana differing in status, tag, assignee, files and day."""
    bob = make_editor("bob")
    tips = {name: make_tip(note=name) for name in ("a", "b", "c", "d", "e", "f")}
    drugs = Tag.objects.create(name="drugs")
    ports = Tag.objects.create(name="ports")
    tips["a"].tags.add(drugs)
    tips["b"].tags.add(drugs, ports)
    tips["c"].tags.add(ports)
    Tip.objects.filter(pk__in=[tips["a"].pk, tips["c"].pk]).update(status=Tip.Status.VERIFIED)
    Tip.objects.filter(pk=tips["d"].pk).update(status=Tip.Status.DISCARDED)
    Tip.objects.filter(pk__in=[tips["a"].pk, tips["d"].pk]).update(assignee=editor.user)
    Tip.objects.filter(pk=tips["b"].pk).update(assignee=bob.user)
    Tip.objects.filter(pk__in=[tips["b"].pk, tips["e"].pk]).update(file_count=2)
    days = {
        "a": datetime(2024, 3, 1, tzinfo=UTC),
        "b": datetime(2024, 3, 10, tzinfo=UTC),
        "c": datetime(2024, 3, 20, tzinfo=UTC),
        "d": datetime(2024, 4, 2, tzinfo=UTC),
        "e": datetime(2024, 4, 30, tzinfo=UTC),
        "f": datetime(2024, 5, 1, tzinfo=UTC),
    }
    for name, day in days.items():
        Tip.objects.filter(pk=tips[name].pk).update(received_on=day)
    refs = {name: tip.reference for name, tip in tips.items()}
    return {"refs": refs, "bob": bob, "drugs": drugs, "ports": ports}


def shown(client, varied, **query) -> set[str]:
    by_ref = {ref: name for name, ref in varied["refs"].items()}
    response = client.get(INBOX, query)
    assert response.status_code == 200
    assert not response.context["form"].errors, response.context["form"].errors
    return {by_ref[ref] for ref in listed(response)}


def test_filter_by_status(varied, editor_client):
    assert shown(editor_client, varied, status="verified") == {"a", "c"}
    assert shown(editor_client, varied, status="discarded") == {"d"}
    assert shown(editor_client, varied, status="new") == {"b", "e", "f"}
    assert shown(editor_client, varied, status="published") == set()
    assert shown(editor_client, varied) == set("abcdef")


def test_filter_by_tag(varied, editor_client):
    assert shown(editor_client, varied, tag=varied["drugs"].pk) == {"a", "b"}
    assert shown(editor_client, varied, tag=varied["ports"].pk) == {"b", "c"}


def test_filter_by_assignee(varied, editor, editor_client):
    assert shown(editor_client, varied, assignee="me") == {"a", "d"}
    assert shown(editor_client, varied, assignee="none") == {"c", "e", "f"}
    assert shown(editor_client, varied, assignee=str(varied["bob"].user.pk)) == {"b"}
    assert shown(editor_client, varied, assignee=str(editor.user.pk)) == {"a", "d"}


def test_filter_by_files(varied, editor_client):
    assert shown(editor_client, varied, has_files="yes") == {"b", "e"}
    assert shown(editor_client, varied, has_files="no") == {"a", "c", "d", "f"}


def test_filter_by_date_range_includes_both_ends(varied, editor_client):
    assert shown(editor_client, varied, received_from="2024-03-10", received_to="2024-04-02") == {
        "b",
        "c",
        "d",
    }
    assert shown(editor_client, varied, received_from="2024-04-30") == {"e", "f"}
    assert shown(editor_client, varied, received_to="2024-03-01") == {"a"}
    assert shown(editor_client, varied, received_from="2024-06-01") == set()


def test_filters_combine(varied, editor_client):
    assert shown(editor_client, varied, status="new", has_files="yes") == {"b", "e"}
    assert shown(editor_client, varied, tag=varied["drugs"].pk, assignee="me") == {"a"}
    assert shown(editor_client, varied, status="verified", received_from="2024-03-15") == {"c"}


def test_counts_per_status_respect_the_other_filters(varied, editor_client):
    everything = counts(editor_client.get(INBOX))
    assert everything == {
        "new": 3,
        "in_review": 0,
        "verified": 2,
        "published": 0,
        "discarded": 1,
    }
    drugs = counts(editor_client.get(INBOX, {"tag": varied["drugs"].pk}))
    assert drugs == {"new": 1, "in_review": 0, "verified": 1, "published": 0, "discarded": 0}
    # The status filter itself does not change the tabs' counts...
    assert counts(editor_client.get(INBOX, {"status": "verified"})) == everything
    # ...but every other filter does, also with a status chosen.
    mine = counts(editor_client.get(INBOX, {"status": "new", "assignee": "me"}))
    assert mine == {"new": 0, "in_review": 0, "verified": 1, "published": 0, "discarded": 1}
    with_files = counts(editor_client.get(INBOX, {"has_files": "yes"}))
    assert with_files == {"new": 2, "in_review": 0, "verified": 0, "published": 0, "discarded": 0}


def test_counts_ignore_tips_the_editor_cannot_read(editor, make_editor):
    make_tip(note="ana's")
    bob = make_editor("bob")
    theirs = make_tip(note="both")
    grant_of(theirs, editor).delete()
    Tip.objects.filter(pk=theirs.pk).update(status=Tip.Status.VERIFIED)
    ana = counts(signed_in_client(editor).get(INBOX))
    assert ana["new"] == 1 and ana["verified"] == 0
    assert counts(signed_in_client(bob).get(INBOX))["verified"] == 1


def test_status_tabs_keep_the_other_filters(varied, editor_client):
    response = editor_client.get(INBOX, {"tag": varied["drugs"].pk, "page": "1"})
    queries = {value: query for value, _label, _count, query in response.context["tabs"]}
    assert f"tag={varied['drugs'].pk}" in queries["verified"]
    assert "status=verified" in queries["verified"]
    assert "page=" not in queries["verified"]
    response = editor_client.get(INBOX, {"tag": varied["drugs"].pk, "before": "5", "after": "2"})
    for _value, _label, _count, query in response.context["tabs"]:
        assert "before=" not in query and "after=" not in query


@pytest.mark.parametrize(
    "query",
    [
        {"status": "bogus"},
        {"tag": "abc"},
        {"tag": "999999"},
        {"assignee": "nobody-at-all"},
        {"assignee": "999999"},
        {"has_files": "maybe"},
        {"received_from": "yesterday"},
        {"received_to": "2024-13-45"},
        {"received_from": "0001-01-01", "received_to": "9999-12-31"},
        {"received_to": "9999-12-31"},
        {"received_from": "9999-12-31"},
        {"page": "abc"},
        {"page": "-1"},
        {"page": "99999"},
        {"status": "<script>alert(1)</script>"},
        {"tag": "1 OR 1=1"},
    ],
)
def test_bad_filter_values_never_crash(varied, editor_client, query):
    response = editor_client.get(INBOX, query)
    assert response.status_code in {200, 400}
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html


def test_bad_filter_values_show_form_errors(varied, editor_client):
    response = editor_client.get(INBOX, {"status": "bogus", "received_from": "yesterday"})
    assert response.status_code in {200, 400}
    if response.status_code == 200:
        errors = response.context["form"].errors
        assert "status" in errors and "received_from" in errors
        assert 'class="errorlist' in response.content.decode()


def test_an_extreme_but_valid_date_range_shows_everything(varied, editor_client):
    everything = shown(editor_client, varied, received_from="0001-01-01", received_to="9999-12-31")
    assert everything == set("abcdef")


# --- Pagination and query count --------------------------------------------------------


def older_link(response) -> str | None:
    """The Older link's URL (None if there is none), as the browser would follow it."""
    return _link(response, "next")


def newer_link(response) -> str | None:
    return _link(response, "prev")


def _link(response, rel: str) -> str | None:
    html = response.content.decode()
    found = re.findall(rf'<a href="([^"]*)" rel="{rel}">', html)
    assert len(found) <= 1
    return unescape(found[0]) if found else None


def walk(client, url: str, follow) -> list[list[str]]:
    """The references on each page from ``url`` on, following ``follow`` until it ends."""
    pages = []
    while url is not None:
        assert len(pages) < 100, "the links go round in circles"
        response = client.get(url)
        pages.append(listed(response))
        url = follow(response)
    return pages


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of 4 rows, so a walk over many pages needs a dozen tips rather than hundreds."""
    monkeypatch.setattr("tipline.triage.views.inbox.PAGE_SIZE", 4)
    return 4


def test_pages_of_fifty(editor, editor_client):
    tips = [make_tip() for _ in range(60)]
    newest_first = [tip.reference for tip in reversed(tips)]
    first = editor_client.get(INBOX)
    assert listed(first) == newest_first[:50]
    assert newer_link(first) is None
    second = editor_client.get(older_link(first))
    assert listed(second) == newest_first[50:]
    assert older_link(second) is None
    # Where the editor is, from the counts: the 51st to the 60th of 60.
    assert (second.context["page"].first_position, second.context["page"].last_position) == (
        51,
        60,
    )
    assert second.context["position"] == {"first": "51", "last": "60", "total": "60"}
    assert "51–60" in second.content.decode()


def test_older_links_carry_a_cursor_not_a_page_number(editor, editor_client, small_pages):
    tips = [make_tip() for _ in range(6)]
    link = older_link(editor_client.get(INBOX))
    # The last row shown is the newest tip but three: older pages start below its id.
    assert link == f"{INBOX}?before={tips[2].pk}"
    newer = newer_link(editor_client.get(link))
    assert newer == INBOX  # one page above: the first page itself, no cursor


def test_walking_older_visits_every_readable_tip_once_newest_first(
    editor, make_editor, small_pages
):
    bob = make_editor("bob")
    readable, unreadable = [], []
    for n in range(14):
        tip = make_tip(note=f"tip {n}")
        if n % 3 == 1:  # interleaved: bob's alone, ana's grant taken away
            grant_of(tip, editor).delete()
            unreadable.append(tip.reference)
        else:
            readable.append(tip.reference)
    client = signed_in_client(editor)

    pages = walk(client, INBOX, older_link)

    assert [ref for page in pages for ref in page] == list(reversed(readable))
    assert [len(page) for page in pages] == [4, 4, 1]
    assert not set(unreadable) & {ref for page in pages for ref in page}
    # Bob walks his own list, the tips ana cannot read among them.
    bob_pages = walk(signed_in_client(bob), INBOX, older_link)
    assert set(unreadable) <= {ref for page in bob_pages for ref in page}


def test_walking_newer_from_the_last_page_comes_back_to_the_first(
    editor, editor_client, small_pages
):
    tips = [make_tip() for _ in range(11)]
    older_pages = walk(editor_client, INBOX, older_link)
    assert [len(page) for page in older_pages] == [4, 4, 3]
    last = editor_client.get(INBOX)
    while older_link(last):
        last = editor_client.get(older_link(last))

    url, newer_pages = newer_link(last), []
    while url is not None:
        response = editor_client.get(url)
        newer_pages.append(listed(response))
        url, final = newer_link(response), url
    assert newer_pages == older_pages[-2::-1]
    assert final == INBOX  # the walk ends on the real first page, without a cursor
    assert [ref for page in older_pages for ref in page] == [t.reference for t in reversed(tips)]


def test_a_page_reached_by_newer_links_is_the_same_page(editor, editor_client, small_pages):
    tips = [make_tip() for _ in range(13)]
    refs = [tip.reference for tip in reversed(tips)]
    # Newer than the 9th newest tip: the four above it (5th to 8th), not the first page.
    response = editor_client.get(INBOX, {"after": tips[4].pk})
    assert listed(response) == refs[4:8]
    page = response.context["page"]
    assert (page.first_position, page.last_position, page.total) == (5, 8, 13)
    assert newer_link(response) == INBOX
    assert older_link(response) == f"{INBOX}?before={tips[5].pk}"


def test_links_keep_the_filters(editor, editor_client, small_pages):
    tag = Tag.objects.create(name="ports")
    tips = [make_tip() for _ in range(12)]
    with_files = {tip.pk for tip in tips[::2]}
    Tip.objects.filter(pk__in=with_files).update(file_count=1)
    for tip in tips:
        tip.tags.add(tag)
    expected = [tip.reference for tip in reversed(tips) if tip.pk not in with_files]

    query = {"has_files": "no", "tag": str(tag.pk)}
    first = editor_client.get(INBOX, query)
    link = older_link(first)
    assert link.startswith(f"{INBOX}?has_files=no&tag={tag.pk}&before=")
    assert f"?has_files=no&amp;tag={tag.pk}&amp;before=" in first.content.decode()
    pages = walk(editor_client, f"{INBOX}?has_files=no&tag={tag.pk}", older_link)
    assert [ref for page in pages for ref in page] == expected
    second = editor_client.get(link)
    assert newer_link(second) == f"{INBOX}?has_files=no&tag={tag.pk}"
    # The tabs and the status filter keep the filters too, and drop the cursor.
    tab_queries = [query for _value, _label, _count, query in second.context["tabs"]]
    assert all("before=" not in q and "has_files=no" in q for q in tab_queries)


def test_a_status_filter_pages_by_key_with_its_own_count(editor, editor_client, small_pages):
    tips = [make_tip() for _ in range(10)]
    verified = tips[1::2]
    Tip.objects.filter(pk__in=[tip.pk for tip in verified]).update(status=Tip.Status.VERIFIED)
    pages = walk(editor_client, f"{INBOX}?status=verified", older_link)
    assert [ref for page in pages for ref in page] == [t.reference for t in reversed(verified)]
    last = editor_client.get(f"{INBOX}?status=verified&before={verified[1].pk}")
    page = last.context["page"]
    assert (page.first_position, page.last_position, page.total) == (5, 5, 5)


@pytest.mark.parametrize(
    "query",
    [
        {"before": "abc"},
        {"before": "-1"},
        {"before": "0"},
        {"before": "1.5"},
        {"before": "1e3"},
        {"before": "²"},
        {"before": " 3"},
        {"before": ""},
        {"before": "99999999999999999999"},
        {"before": "9223372036854775808"},
        {"before": "9223372036854775807"},
        {"after": "abc"},
        {"after": "-5"},
        {"after": "99999999999999999999"},
        {"after": "9223372036854775807"},
        {"after": "0x10"},
        {"page": "2"},
        {"page": "99999"},
    ],
)
def test_a_bad_or_out_of_range_cursor_gives_the_first_page(
    editor, editor_client, small_pages, query
):
    tips = [make_tip() for _ in range(6)]
    response = editor_client.get(INBOX, query)
    assert response.status_code == 200
    assert listed(response) == [tip.reference for tip in reversed(tips)][:4]
    assert newer_link(response) is None
    assert response.context["page"].first_position == 1
    assert not response.context["form"].is_bound  # a cursor is not a filter


def test_a_cursor_below_every_tip_gives_the_oldest_page(editor, editor_client, small_pages):
    tips = [make_tip() for _ in range(6)]
    response = editor_client.get(INBOX, {"before": tips[0].pk})  # nothing is older
    assert response.status_code == 200
    assert listed(response) == [tip.reference for tip in reversed(tips)][2:]
    assert older_link(response) is None
    assert newer_link(response) == INBOX
    assert response.context["page"].first_position == 3


def test_an_older_page_whose_tips_went_away_ends_on_the_oldest_page(
    editor, editor_client, small_pages
):
    tips = [make_tip() for _ in range(9)]
    link = older_link(editor_client.get(INBOX, {"status": "new"}))
    # While the editor reads page 1, the older tips are verified by a colleague.
    Tip.objects.filter(pk__in=[tip.pk for tip in tips[:5]]).update(status=Tip.Status.VERIFIED)
    response = editor_client.get(link)
    assert listed(response) == [tip.reference for tip in reversed(tips[5:])]
    assert older_link(response) is None


def _inbox_queries(client, url: str = INBOX) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


def _decorate(tips: list[Tip], editor) -> None:
    """Tags and an assignee on every tip, so a per-row lookup would show in the count."""
    tags = [Tag.objects.get_or_create(name=name)[0] for name in ("one", "two")]
    for tip in tips:
        tip.tags.set(tags)
    Tip.objects.filter(pk__in=[tip.pk for tip in tips]).update(assignee=editor.user)


def test_the_inbox_costs_the_same_queries_for_3_and_60_tips(editor, editor_client):
    few = [make_tip(note="few") for _ in range(3)]
    _decorate(few, editor)
    _inbox_queries(editor_client)  # warm up: session, content types, ...
    with_three = _inbox_queries(editor_client)
    many = [make_tip(note="many") for _ in range(57)]
    _decorate(many, editor)
    with_sixty = _inbox_queries(editor_client)
    assert with_sixty == with_three


def test_a_deep_cursor_costs_the_same_queries_as_the_first_page(editor, editor_client):
    tips = [make_tip(note="deep") for _ in range(120)]
    _decorate(tips, editor)
    _inbox_queries(editor_client)  # warm up
    first = _inbox_queries(editor_client)
    newest_first = [tip.reference for tip in reversed(tips)]
    # The third page, reached directly as a bookmark would, and back up from the bottom.
    before = f"{INBOX}?before={tips[-100].pk}"
    after = f"{INBOX}?after={tips[9].pk}&has_files=no"
    assert _inbox_queries(editor_client, before) == first
    assert _inbox_queries(editor_client, after) == first
    assert listed(editor_client.get(before)) == newest_first[100:]
    assert listed(editor_client.get(after)) == newest_first[60:110]


# --- Method and bulk status -----------------------------------------------------------------


def test_the_inbox_answers_get_only(editor, editor_client):
    assert editor_client.post(INBOX).status_code == 405
    assert editor_client.put(INBOX).status_code == 405


def test_bulk_status_rejects_get(editor, editor_client):
    assert editor_client.get("/staff/bulk-status/").status_code == 405


def test_bulk_status_changes_readable_tips_and_audits_each(editor, editor_client):
    one, two, untouched = make_tip(), make_tip(), make_tip()
    response = editor_client.post(
        "/staff/bulk-status/", {"tips": [one.reference, two.reference], "status": "verified"}
    )
    assert response.status_code == 302 and response["Location"] == INBOX
    statuses = dict(Tip.objects.values_list("reference", "status"))
    assert statuses[one.reference] == statuses[two.reference] == "verified"
    assert statuses[untouched.reference] == "new"
    entries = AuditEntry.objects.filter(action="status_changed")
    assert sorted(entries.values_list("tip_reference", flat=True)) == sorted(
        [one.reference, two.reference]
    )
    for entry in entries:
        assert entry.actor == editor.username
        assert entry.detail == {"from": "new", "to": "verified"}


def test_bulk_status_ignores_a_tip_without_a_grant(editor, make_editor):
    mine = make_tip(note="mine")
    bob = make_editor("bob")
    theirs = make_tip(note="theirs")
    grant_of(theirs, editor).delete()
    client = signed_in_client(editor)
    client.post(
        "/staff/bulk-status/",
        {"tips": [mine.reference, theirs.reference], "status": "discarded"},
    )
    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert theirs.status == "new"
    assert not AuditEntry.objects.filter(tip_reference=theirs.reference).exists()
    # The readable tip in the same request is still changed, and audited.
    assert mine.status == "discarded"
    assert AuditEntry.objects.filter(tip_reference=mine.reference, action="status_changed").exists()
    # Bob, who can read it, still sees it as it was.
    bob_counts = counts(signed_in_client(bob).get(INBOX))
    assert bob_counts["new"] == 1 and bob_counts["discarded"] == 0


def test_bulk_status_with_only_unreadable_or_unknown_tips_changes_nothing(editor, make_editor):
    make_tip()
    bob = make_editor("bob")
    theirs = make_tip()
    grant_of(theirs, editor).delete()
    client = signed_in_client(editor)
    response = client.post(
        "/staff/bulk-status/",
        {"tips": [theirs.reference, "AAAA-BBBB-CCCC"], "status": "published"},
    )
    assert response.status_code == 302
    assert not Tip.objects.filter(status="published").exists()
    assert not AuditEntry.objects.filter(action="status_changed").exists()
    assert Tip.objects.filter(pk=theirs.pk, status="new").exists()
    assert bob.user.is_active


def test_bulk_status_refuses_an_unknown_status(editor, editor_client):
    tip = make_tip()
    response = editor_client.post("/staff/bulk-status/", {"tips": [tip.reference], "status": "x"})
    assert response.status_code == 302
    tip.refresh_from_db()
    assert tip.status == "new"
    assert not AuditEntry.objects.filter(action="status_changed").exists()


def test_bulk_status_to_the_same_status_is_not_audited(editor, editor_client):
    tip = make_tip()
    editor_client.post("/staff/bulk-status/", {"tips": [tip.reference], "status": "new"})
    assert not AuditEntry.objects.filter(action="status_changed").exists()
