"""When a tip is due to go.

A tip's period runs from the day it reached its current status
(``Tip.status_changed_on``) for the number of days its status is given by the
``RetentionPolicy``; it is deleted on the first purge on or after that day. A
tip under legal hold has no deletion date. A tip whose purge has begun
(``purging``) is finished whatever the policy says by then.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Q, QuerySet

from tipline.models import RetentionPolicy, Tip


def tip_deletion_date(tip: Tip, policy: RetentionPolicy) -> date | None:
    if tip.legal_hold and not tip.purging:
        return None
    return tip.status_changed_on + timedelta(days=policy.days_for(tip.status))


def _due_by(day: date, policy: RetentionPolicy) -> Q:
    """Tips (not on hold) whose deletion date is on or before ``day``."""
    due = Q()
    for status in Tip.Status.values:
        last_kept_start = day - timedelta(days=policy.days_for(status))
        due |= Q(status=status, status_changed_on__lte=last_kept_start)
    return due & Q(legal_hold=False)


def expired_tips(*, as_of: date, policy: RetentionPolicy) -> QuerySet[Tip]:
    """Every tip the purge must delete on ``as_of``, oldest first."""
    return Tip.objects.filter(_due_by(as_of, policy) | Q(purging=True)).order_by("id")


def tips_due_within(*, days: int, today: date, policy: RetentionPolicy) -> QuerySet[Tip]:
    """Tips that the purges of the next ``days`` days will delete (today's included)."""
    return Tip.objects.filter(
        _due_by(today + timedelta(days=days), policy) | Q(purging=True)
    ).order_by("status_changed_on", "id")
