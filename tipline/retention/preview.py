"""What the policy will delete soon: counts and a list, for the retention page.

Nothing here decrypts anything: it reads statuses, dates and grants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet
from django.utils import timezone

from tipline.models import Grant, RecipientKey, RetentionPolicy, Tip
from tipline.retention.policy import tip_deletion_date, tips_due_within

PREVIEW_DAYS = (7, 30)
# The list under the counts stops here; the counts are always complete.
PREVIEW_LIST_LIMIT = 200


@dataclass(frozen=True)
class DueTip:
    tip: Tip
    readable: bool  # by the admin looking: only then is the reference shown, as a link
    deletion_date: date | None


@dataclass(frozen=True)
class RetentionPreview:
    counts: list[tuple[int, int]]  # (days, tips deleted within them)
    due: list[DueTip]  # within the longest period, soonest first
    more: int  # due tips left off the list
    on_hold: int


def _due_soonest(due: QuerySet[Tip], policy: RetentionPolicy) -> list[tuple[date | None, Tip]]:
    """The first ``PREVIEW_LIST_LIMIT`` tips by deletion date (those being purged first).

    Within one status the period is the same, so the order by the day the tip
    got its status is the order of deletion: one query per status, merged here.
    """
    candidates = [
        tip
        for status in Tip.Status.values
        for tip in due.filter(status=status).order_by("-purging", "status_changed_on", "id")[
            :PREVIEW_LIST_LIMIT
        ]
    ]
    dated = [(tip_deletion_date(tip, policy), tip) for tip in candidates]
    dated.sort(key=lambda row: (not row[1].purging, row[0], row[1].pk))
    return dated[:PREVIEW_LIST_LIMIT]


def retention_preview(*, policy: RetentionPolicy, reader: RecipientKey) -> RetentionPreview:
    today = timezone.localdate()
    counts = [
        (days, tips_due_within(days=days, today=today, policy=policy).count())
        for days in PREVIEW_DAYS
    ]
    due = _due_soonest(tips_due_within(days=PREVIEW_DAYS[-1], today=today, policy=policy), policy)
    readable = set(
        Grant.objects.filter(recipient=reader, tip__in=[row[1] for row in due]).values_list(
            "tip_id", flat=True
        )
    )
    rows = [DueTip(tip, tip.pk in readable, deletion) for deletion, tip in due]
    on_hold = Tip.objects.filter(legal_hold=True, purging=False).count()
    return RetentionPreview(counts, rows, counts[-1][1] - len(rows), on_hold)
