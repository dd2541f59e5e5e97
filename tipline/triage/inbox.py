"""The inbox query: the tips an editor can read, filtered, counted and previewed.

The page costs a fixed number of queries whatever it shows: the rows come with
the editor's wrapped key in the same SELECT, tags in one prefetch, and the
counts per status in one GROUP BY. Previews are decrypted in memory for the 50
rows shown, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, QuerySet
from django.utils import timezone

from tipline.crypto import CryptoError
from tipline.keyring import tip_key_open
from tipline.models import Tip
from tipline.sealed import tip_content_open
from tipline.triage.access import Editor

PREVIEW_CHARS = 140


@dataclass(frozen=True)
class InboxFilters:
    status: str = ""
    tag: int | None = None
    assignee: str = ""  # "", "me", "none" or a user id
    has_files: bool | None = None
    received_from: date | None = None
    received_to: date | None = None


def readable_tips(editor: Editor) -> QuerySet[Tip]:
    """Every tip with a grant to the editor's key, with that grant's wrapped key."""
    # One filter() call on the relation, so the annotation reads the same join.
    return Tip.objects.filter(grants__recipient=editor.recipient).annotate(
        wrapped_key=F("grants__wrapped_key")
    )


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _without_status_filter(tips: QuerySet[Tip], f: InboxFilters, user_id: int) -> QuerySet[Tip]:
    if f.tag is not None:
        tips = tips.filter(tags__id=f.tag)
    if f.assignee == "me":
        tips = tips.filter(assignee_id=user_id)
    elif f.assignee == "none":
        tips = tips.filter(assignee__isnull=True)
    elif f.assignee.isdigit():
        tips = tips.filter(assignee_id=int(f.assignee))
    if f.has_files is not None:
        tips = tips.filter(file_count__gt=0) if f.has_files else tips.filter(file_count=0)
    if f.received_from:
        tips = tips.filter(received_on__gte=_day_start(f.received_from))
    if f.received_to and f.received_to < date.max:  # the last day has no day after it
        tips = tips.filter(received_on__lt=_day_start(f.received_to) + timedelta(days=1))
    return tips


def inbox_tips(editor: Editor, filters: InboxFilters, user_id: int) -> QuerySet[Tip]:
    tips = _without_status_filter(readable_tips(editor), filters, user_id)
    if filters.status:
        tips = tips.filter(status=filters.status)
    return tips.select_related("assignee").prefetch_related("tags").order_by("-id")


def status_counts(editor: Editor, filters: InboxFilters, user_id: int) -> dict[str, int]:
    """Tips per status under every filter but the status itself (for the tabs)."""
    tips = _without_status_filter(readable_tips(editor), filters, user_id)
    rows = tips.order_by().values("status").annotate(n=Count("id"))
    counts = {status: 0 for status in Tip.Status.values}
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


def tip_preview(tip: Tip, editor: Editor) -> str:
    """The start of the note, on one line; empty if the note is empty or cannot be opened."""
    try:
        tip_key = tip_key_open(tip=tip, wrapped_key=tip.wrapped_key, private_key=editor.private_key)
        note = tip_content_open(tip, tip_key=tip_key)["note"]
    except (CryptoError, ValueError, KeyError):
        return ""
    flat = " ".join(note.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"
