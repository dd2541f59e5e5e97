"""The daily line of counts that replaces any log line per tip or per file.

A line at INFO per file (the sanitizer's verdict, Celery's "Received task" and
"succeeded") is timestamped by the journal to the microsecond: it dates each
arrival however coarse the database is. Those lines are DEBUG now (Celery's:
WARNING and above only, config/settings.py LOGGING) and the daily maintenance
writes one line of counts for the day before, from the database, which keeps
each tip's day and nothing finer. Numbers only: no reference, no name, no type.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count

from tipline.models import Attachment, Tip
from tipline.sanitize import SanitizeStatus

logger = logging.getLogger(__name__)

_CLEANED = {SanitizeStatus.CLEANED, SanitizeStatus.CLEANED_REENCODED}


@dataclass(frozen=True)
class DailyCounts:
    day: date
    tips: int = 0
    files: int = 0
    cleaned: int = 0  # metadata removed
    stored_as_sent: int = 0  # not a type we clean, or damaged: kept unchanged, not shown
    failed: int = 0  # processing gave up (tampered at rest, or given up by the sweep)
    waiting: int = 0  # not processed yet


def daily_counts(*, day: date) -> DailyCounts:
    """What arrived on ``day`` (UTC), as the database keeps it."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    tips = Tip.objects.filter(received_on__gte=start, received_on__lt=start + timedelta(days=1))
    rows = (
        Attachment.objects.filter(tip__in=tips)
        .values_list("state", "sanitize_status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    files = cleaned = as_sent = failed = waiting = 0
    for state, status, count in rows:
        files += count
        if state == Attachment.State.FAILED:
            failed += count
        elif state == Attachment.State.RECEIVED:
            waiting += count
        elif status in _CLEANED:
            cleaned += count
        else:
            as_sent += count
    return DailyCounts(day, tips.count(), files, cleaned, as_sent, failed, waiting)


def daily_counts_log(*, today: date, spool_waiting: int | None) -> DailyCounts:
    """Log yesterday's counts in one line (WARNING when a file failed); return them."""
    counts = daily_counts(day=today - timedelta(days=1))
    logger.log(
        logging.WARNING if counts.failed else logging.INFO,
        "daily counts for %s: %d tips and %d files received; %d cleaned, %d stored as sent, "
        "%d failed, %d not processed yet; %s in the spool",
        counts.day.isoformat(),
        counts.tips,
        counts.files,
        counts.cleaned,
        counts.stored_as_sent,
        counts.failed,
        counts.waiting,
        "?" if spool_waiting is None else f"{spool_waiting} blobs",
    )
    return counts
