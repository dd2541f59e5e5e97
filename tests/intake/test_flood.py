"""Flood containment: no source is refused, and a flood of junk lands apart from real tips.

The flood counters live in the cache; these tests use a real one
(``memory_cache``, in memory; the suite's default is the dummy cache, see
tests/settings.py) and a clock they can move (``clock``).
"""

from __future__ import annotations

import pickle
import re

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.test import Client

from tests.intake.helpers import form_token_of
from tests.triage.helpers import signed_in_client, staff_account_create
from tipline.intake import flood
from tipline.models import AuditEntry, Grant, Tip

pytestmark = pytest.mark.django_db

ADDRESS = "198.51.100.23"
FORWARDED = "203.0.113.99"
AGENT = "FloodUA/9.9 canary"
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
REFERENCE = re.compile(r'href="/staff/tips/([A-Z0-9-]+)/"')


class Source:
    """One browser without JavaScript, with one CSRF cookie, as a flooder or a real source."""

    def __init__(self, lang: str = "es") -> None:
        self.lang = lang
        self.client = Client(
            enforce_csrf_checks=True,
            REMOTE_ADDR=ADDRESS,
            HTTP_X_FORWARDED_FOR=FORWARDED,
            HTTP_USER_AGENT=AGENT,
        )
        self.fields: dict[str, str] = {}

    def open_form(self) -> None:
        page = self.client.get(f"/{self.lang}/")
        assert page.status_code == 200
        self.fields = {
            "csrfmiddlewaretoken": CSRF_FIELD.search(page.content.decode()).group(1),
            "form_token": form_token_of(page),
        }

    def send(self, note: str) -> int:
        return self.client.post(f"/{self.lang}/send/", {**self.fields, "note": note}).status_code


def inbox_references(client: Client, query: str = "") -> tuple[list[str], object]:
    response = client.get(f"/staff/?{query}")
    assert response.status_code == 200
    return REFERENCE.findall(response.content.decode()), response


# --- The flood ---------------------------------------------------------------------------------


def test_a_flood_of_2000_junk_tips_leaves_the_tip_line_open_and_the_real_tip_apart(
    open_tipline, memory_cache, clock, settings
) -> None:
    """One client, one CSRF cookie, 2,000 note-only tips as fast as it can, each with a fresh form.

    Before the flood a real source opened the form and is still writing. The
    first tips of the hour cannot be told from a busy hour: the threshold's
    worth of junk reaches the inbox; everything after it is set apart.
    """
    settings.TIPLINE_FLOOD_TIPS_PER_HOUR = threshold = 20
    ana, bob = staff_account_create("ana"), staff_account_create("bob")
    source = Source("es")
    source.open_form()

    clock.advance(120)  # two minutes later the flood begins
    flooder = Source("es")
    for n in range(2000):
        flooder.open_form()
        assert flooder.send(f"junk {n}") == 200, f"junk tip {n} was refused"
        if n % 400 == 399:
            clock.advance(30)
    clock.advance(60)
    assert source.send("The shipment arrives on Tuesday") == 200  # accepted, not refused
    real = Tip.objects.order_by("-id").first()

    assert Tip.objects.count() == 2001
    assert real.arrived_in_flood is False
    junk = Tip.objects.exclude(pk=real.pk)
    assert junk.filter(arrived_in_flood=False).count() == threshold
    assert junk.filter(arrived_in_flood=True).count() == 2000 - threshold

    # Some of the flood only bob can read (ana's grants on them are gone).
    bob_only = list(junk.filter(arrived_in_flood=True).order_by("id")[:30])
    Grant.objects.filter(tip__in=bob_only, recipient__user=ana.user).delete()

    ana_client = signed_in_client(ana)
    listed, response = inbox_references(ana_client)
    assert real.reference in listed
    page = response.context["page"]
    assert page.total == threshold + 1  # the real tip and the junk before the flood
    assert "Arrived during a flood (1,950)" in response.content.decode()
    flooded, response = inbox_references(ana_client, "flood=1")
    assert real.reference not in flooded and len(flooded) == 50
    assert response.context["page"].total == 1950

    discard = ana_client.post("/staff/flood/discard/", {"confirm": "on"})
    assert discard.status_code == 302 and discard["Location"] == "/staff/?flood=1"

    statuses = dict(Tip.objects.values_list("pk", "status"))
    discarded = {pk for pk, status in statuses.items() if status == Tip.Status.DISCARDED}
    readable_flood = set(
        junk.filter(arrived_in_flood=True, grants__recipient__user=ana.user).values_list(
            "pk", flat=True
        )
    )
    assert discarded == readable_flood and len(discarded) == 1950
    assert all(statuses[tip.pk] == Tip.Status.NEW for tip in bob_only)
    assert statuses[real.pk] == Tip.Status.NEW
    entries = AuditEntry.objects.filter(action="flood_discarded")
    assert [(e.actor, e.detail) for e in entries] == [("ana", {"count": 1950})]
    assert not AuditEntry.objects.filter(action="status_changed").exists()
    # Bob still finds his thirty, new, in the flood group; the real tip in his inbox.
    bob_client = signed_in_client(bob)
    _, response = inbox_references(bob_client, "flood=1&status=new")
    assert response.context["page"].total == 30
    assert real.reference in inbox_references(bob_client)[0]


def test_no_source_is_refused_however_far_over_the_threshold(
    open_tipline, memory_cache, clock
) -> None:
    hour = flood._hour(clock.now)
    for kind in (flood.ISSUED, flood.SUBMITTED):
        memory_cache.set(flood._key(kind, hour), 10**9, 3600)
    memory_cache.set(flood._key(flood.BEGAN, hour), clock.minute - 30, 3600)
    source = Source("en")
    source.open_form()
    clock.advance(60)
    assert source.send("still welcome") == 200
    assert Tip.objects.get().arrived_in_flood is True  # accepted, set apart
    assert memory_cache.get(flood._key(flood.SUBMITTED, hour)) == 10**9 + 1


# --- How a tip is judged part of a flood ---------------------------------------------------------


@pytest.fixture
def threshold(settings) -> int:
    settings.TIPLINE_FLOOD_TIPS_PER_HOUR = 3
    return 3


def submit_count(n: int) -> None:
    for _ in range(n):
        flood.tip_arrived_in_flood(issued_minute=0, flagged=False)


def test_forms_over_the_threshold_carry_the_flag(memory_cache, threshold) -> None:
    flags = [flood.form_issued_in_flood() for _ in range(5)]
    assert flags == [False, False, False, True, True]


def test_under_the_threshold_nothing_is_marked(memory_cache, clock, threshold) -> None:
    # A flagged form alone marks nothing: opening forms costs a flooder nothing,
    # and page loads with no tips must not put the next real source in the flood group.
    marks = [flood.tip_arrived_in_flood(issued_minute=clock.minute, flagged=True) for _ in range(3)]
    assert marks == [False, False, False]


def test_over_the_threshold_a_flagged_form_is_marked(memory_cache, clock, threshold) -> None:
    submit_count(3)
    assert flood.tip_arrived_in_flood(issued_minute=clock.minute - 600, flagged=True) is True


def test_a_form_opened_before_the_flood_began_is_kept_out(memory_cache, clock, threshold) -> None:
    opened = clock.minute
    clock.advance(300)
    submit_count(4)  # the flood begins now, five minutes after the form was opened
    began = clock.minute
    clock.advance(300)
    assert flood.tip_arrived_in_flood(issued_minute=opened, flagged=False) is False
    # In the same minute the flood began: perhaps a source already writing; kept out.
    assert flood.tip_arrived_in_flood(issued_minute=began, flagged=False) is False
    # After it began, unflagged (e.g. a form from a quiet minute of the new hour): marked.
    assert flood.tip_arrived_in_flood(issued_minute=began + 1, flagged=False) is True


def test_the_flood_began_once_per_hour(memory_cache, clock, threshold) -> None:
    submit_count(4)
    first = clock.minute
    clock.advance(600)
    submit_count(10)
    assert memory_cache.get(flood._key(flood.BEGAN, flood._hour(clock.now))) == first


def test_each_hour_counts_from_zero_and_forgets_the_last(memory_cache, clock, threshold) -> None:
    submit_count(10)
    for _ in range(10):
        flood.form_issued_in_flood()
    old_hour = flood._hour(clock.now)
    clock.advance(3600)
    assert flood.form_issued_in_flood() is False
    assert flood.tip_arrived_in_flood(issued_minute=clock.minute, flagged=True) is False
    for kind in (flood.ISSUED, flood.SUBMITTED, flood.BEGAN):
        assert memory_cache.get(flood._key(kind, old_hour)) is None, kind
        assert flood._key(kind, old_hour) != flood._key(kind, old_hour + 1)


def test_the_entries_expire_at_a_time_that_depends_on_the_hour_only(clock) -> None:
    hour = flood._hour(clock.now)
    start = hour * 3600
    expiries = {now + flood._timeout(now, hour) for now in (start, start + 1, start + 3599)}
    assert max(expiries) - min(expiries) <= 1, "the expiry would tell when the first tip came"


def test_a_broken_cache_never_marks_and_says_so_without_content(
    memory_cache, clock, threshold, monkeypatch, caplog
) -> None:
    submit_count(10)

    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    for name in ("get", "add", "incr", "touch", "delete_many", "set"):
        monkeypatch.setattr(LocMemCache, name, broken)
    assert flood.form_issued_in_flood() is False
    assert flood.tip_arrived_in_flood(issued_minute=clock.minute + 5, flagged=True) is False
    assert [record.levelname for record in caplog.records] == ["WARNING", "WARNING"]


# --- What the cache holds ----------------------------------------------------------------------


def test_the_cache_holds_numbers_and_nothing_about_the_client(
    open_tipline, memory_cache, clock, threshold
) -> None:
    for n in range(5):
        source = Source("es" if n % 2 else "en")
        source.open_form()
        assert source.send(f"tip {n}") == 200
    keys = list(memory_cache._cache)
    patterns = (
        r":1:tipline:(forms-issued|tips-submitted|flood-began):slot-[01]",
        r":1:tipline:form-used:[0-9a-f]{64}",
    )
    assert all(any(re.fullmatch(p, key) for p in patterns) for key in keys), keys
    values = [pickle.loads(raw) for raw in memory_cache._cache.values()]
    assert all(isinstance(value, int) for value in values)
    raw = b"".join(key.encode() for key in keys) + b"".join(memory_cache._cache.values())
    for needle in (ADDRESS, FORWARDED, AGENT, "FloodUA", "tip 3"):
        assert needle.encode() not in raw
