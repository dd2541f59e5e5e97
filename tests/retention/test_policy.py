"""When each tip is due: per status, from the day it got its status, never under a legal hold."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tipline.models import RetentionPolicy, Tip
from tipline.retention.policy import expired_tips, tip_deletion_date, tips_due_within

pytestmark = pytest.mark.django_db

START = date(2026, 3, 10)
# Every status gets its own period, so a mix-up between statuses shows.
DAYS = {"new": 90, "in_review": 120, "verified": 400, "published": 730, "discarded": 30}


@pytest.fixture
def policy() -> RetentionPolicy:
    policy = RetentionPolicy.current()
    policy.default_days, policy.status_days = 365, dict(DAYS)
    policy.save()
    return policy


def tip_row(*, status: str, changed_on: date = START, hold: bool = False, purging: bool = False):
    return Tip.objects.create(
        status=status,
        received_on="2026-01-01T00:00:00Z",
        status_changed_on=changed_on,
        content_sealed=b"ciphertext",
        legal_hold=hold,
        purging=purging,
    )


def due_on(day: date, policy: RetentionPolicy) -> set[int]:
    return set(expired_tips(as_of=day, policy=policy).values_list("pk", flat=True))


@pytest.mark.parametrize("status", Tip.Status.values)
def test_each_status_expires_on_its_own_day(status: str, policy: RetentionPolicy) -> None:
    tip = tip_row(status=status)
    deletion = START + timedelta(days=DAYS[status])
    assert tip_deletion_date(tip, policy) == deletion
    assert tip.pk not in due_on(deletion - timedelta(days=1), policy)
    assert tip.pk in due_on(deletion, policy)
    assert tip.pk in due_on(deletion + timedelta(days=3000), policy)


def test_a_status_without_a_period_of_its_own_uses_the_default(policy: RetentionPolicy) -> None:
    policy.status_days = {"discarded": 30}
    policy.save()
    tip = tip_row(status="verified")
    assert tip_deletion_date(tip, policy) == START + timedelta(days=365)
    assert tip.pk not in due_on(START + timedelta(days=364), policy)
    assert tip.pk in due_on(START + timedelta(days=365), policy)


def test_the_period_runs_from_the_day_of_the_status(policy: RetentionPolicy) -> None:
    early, late = (
        tip_row(status="discarded"),
        tip_row(status="discarded", changed_on=START + timedelta(days=10)),
    )
    assert due_on(START + timedelta(days=30), policy) == {early.pk}
    assert due_on(START + timedelta(days=40), policy) == {early.pk, late.pk}


def test_a_legal_hold_is_never_due(policy: RetentionPolicy) -> None:
    held = tip_row(status="discarded", hold=True)
    assert tip_deletion_date(held, policy) is None
    assert held.pk not in due_on(START + timedelta(days=36500), policy)
    assert held.pk not in set(
        tips_due_within(days=36500, today=START, policy=policy).values_list("pk", flat=True)
    )


def test_a_purge_begun_is_always_due_even_under_a_hold_set_since(policy: RetentionPolicy) -> None:
    begun = tip_row(status="new", changed_on=START + timedelta(days=5000), hold=True, purging=True)
    assert begun.pk in due_on(START, policy)
    assert tip_deletion_date(begun, policy) is not None


def test_due_within_counts_today_and_the_coming_days(policy: RetentionPolicy) -> None:
    today = START + timedelta(days=30)
    due_today = tip_row(status="discarded")
    due_in_a_week = tip_row(status="discarded", changed_on=START + timedelta(days=7))
    later = tip_row(status="discarded", changed_on=START + timedelta(days=8))

    def within(days: int) -> set[int]:
        return set(
            tips_due_within(days=days, today=today, policy=policy).values_list("pk", flat=True)
        )

    assert within(0) == {due_today.pk}
    assert within(7) == {due_today.pk, due_in_a_week.pk}
    assert later.pk in within(8)
