"""The inbox query: the tips an editor can read, filtered, counted, paged and previewed.

The page costs a fixed number of queries whatever it shows, and wherever it is
in the list: the counts per status in one GROUP BY (which also says how many
tips are newer than the page, for the position, and how many are in the other
group: tips that arrived during a flood are listed apart, see
``tipline.intake.flood``), the rows with the editor's
wrapped key in one SELECT, tags in one prefetch. Previews are decrypted in
memory for the 50 rows shown, never stored.

Pages are cut by key, not by OFFSET: tips are listed newest first by primary
key, and a page is "the 50 tips just older than id B" (``before``) or "the 50
tips just newer than id A" (``after``). The database reads its indexes from
the cursor on instead of reading and dropping every row before the page, so
page 1,000 costs what page 1 costs.

About the cursor being the tip's id (a decision, kept here with the code):
references are random, so they have no order to page by; a position ("the
5,000th tip") would need the OFFSET this replaces, and it moves whenever a tip
arrives, changes status or is deleted. The id is internal but harmless to show
on these pages: only signed-in staff with the second factor see the inbox, no
URL takes an id to reach a tip (tip pages are addressed by the random
reference), and a cursor only bounds the editor's own readable tips, so a
made-up one shows nothing that page 1 and the Older links would not. What an
id tells is roughly how many tips arrived before it, which the counts on the
same page already say. It never reaches a source's pages.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, TypeAlias, TypedDict, TypeVar

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from tipline.accounts.session import Editor
from tipline.crypto import CryptoError
from tipline.keyring import tip_key_open
from tipline.models import Tag, Tip
from tipline.sealed import tip_content_open

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

PREVIEW_CHARS = 140
PAGE_SIZE = 50
# Ids are BigAutoField: a cursor outside 1..2**63-1 cannot name a tip and is ignored.
CURSOR_MAX = 2**63 - 1


class _GrantAnnotation(TypedDict):
    wrapped_key: bytes | memoryview  # the editor's grant's (a BinaryField's value)


# A tip as ``readable_tips`` returns it: with the editor's wrapped key.
ReadableTip: TypeAlias = "WithAnnotations[Tip, _GrantAnnotation]"
TipT = TypeVar("TipT", bound=Tip)


@dataclass(frozen=True)
class InboxFilters:
    # Which group: tips that did not arrive during a flood (the inbox's default),
    # those that did (True), or both (None, for checks that a tip is readable).
    flood: bool | None = False
    status: str = ""
    tag: int | None = None
    assignee: str = ""  # "", "me", "none" or a user id
    has_files: bool | None = None
    # Only tips whose source wrote since an editor last opened them (Conversation.unread).
    unread: bool = False
    received_from: date | None = None
    received_to: date | None = None


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: the tips older than id ``before``, or newer than id ``after``.

    Neither: the first page (the newest tips). Both are never set.
    """

    before: int | None = None
    after: int | None = None


@dataclass(frozen=True)
class InboxPage:
    tips: list[ReadableTip]
    counts: dict[str, int]  # per status, under every filter but the status (the tabs)
    total: int  # tips matching every filter, the status too
    newer_count: int  # matching tips newer than the first row shown
    has_older: bool
    size: int = PAGE_SIZE
    # Tips in the other group (flood or not) matching every other filter, the status too.
    other_group_total: int = 0

    @property
    def first_position(self) -> int:
        """1-based position of the first row in the whole list (0 if the page is empty)."""
        return self.newer_count + 1 if self.tips else 0

    @property
    def last_position(self) -> int:
        return self.newer_count + len(self.tips)

    @property
    def newer_cursor(self) -> int | None:
        """The id for ``?after=``, or None on the first page (or when the newer page
        is the first page: then the link needs no cursor, see ``newer_is_first``)."""
        return self.tips[0].pk if self.tips and self.newer_count > self.size else None

    @property
    def has_newer(self) -> bool:
        return self.newer_count > 0

    @property
    def newer_is_first(self) -> bool:
        return 0 < self.newer_count <= self.size

    @property
    def older_cursor(self) -> int | None:
        """The id for ``?before=``, or None on the last page."""
        return self.tips[-1].pk if self.tips and self.has_older else None

    @property
    def has_other_pages(self) -> bool:
        return self.has_newer or self.has_older


def readable_tips(editor: Editor, **grant_lookups: int) -> QuerySet[ReadableTip]:
    """Every tip with a grant to the editor's key, with that grant's wrapped key.

    ``grant_lookups`` (on the grant, e.g. ``tip_id__lt``) go into the same join.
    """
    # One filter() call on the relation, so the annotation reads the same join.
    lookups = {f"grants__{name}": value for name, value in grant_lookups.items()}
    return Tip.objects.filter(grants__recipient=editor.recipient, **lookups).annotate(
        wrapped_key=F("grants__wrapped_key")
    )


def readable_tags(editor: Editor) -> QuerySet[Tag]:
    """The tags on at least one tip the editor can read, by name.

    Tags are per tip, not a newsroom-wide list: a name such as "informant-carlos"
    on a tip the editor was never given must not reach them (docs/staff.md).
    """
    readable = Tip.tags.through.objects.filter(tip__grants__recipient=editor.recipient)
    return Tag.objects.filter(pk__in=readable.values("tag_id")).order_by("name")


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _without_status_filter(tips: QuerySet[TipT], f: InboxFilters, user_id: int) -> QuerySet[TipT]:
    if f.flood is not None:
        tips = tips.filter(arrived_in_flood=f.flood)
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
    if f.unread:
        tips = tips.filter(conversation__unread=True)
    if f.received_from:
        tips = tips.filter(received_on__gte=_day_start(f.received_from))
    if f.received_to and f.received_to < date.max:  # the last day has no day after it
        tips = tips.filter(received_on__lt=_day_start(f.received_to) + timedelta(days=1))
    return tips


def _filtered(
    editor: Editor,
    filters: InboxFilters,
    user_id: int,
    *,
    below: int | None = None,
    above: int | None = None,
) -> QuerySet[ReadableTip]:
    """The rows' query: every filter, and ids strictly ``below`` or ``above`` a cursor.

    The id bound is written twice, on the grant (in the recipient's join) and on
    the tip: PostgreSQL does not carry a range across a join, and with it on
    both sides it reads both indexes from the cursor on (0.3 ms at any depth
    in 100,000 tips, against 12 ms with the bound on the grant alone and 100 ms
    on the tip alone).
    """
    grant_bound, tip_bound = {}, {}
    if below is not None:
        grant_bound, tip_bound = {"tip_id__lt": below}, {"id__lt": below}
    elif above is not None:
        grant_bound, tip_bound = {"tip_id__gt": above}, {"id__gt": above}
    tips = readable_tips(editor, **grant_bound).filter(**tip_bound)
    tips = _without_status_filter(tips, filters, user_id)
    if filters.status:
        tips = tips.filter(status=filters.status)
    # The unread mark comes in the rows' own query (a LEFT JOIN on the one-to-one
    # conversation), so marking costs no query per row.
    tips = tips.annotate(source_wrote=Coalesce(F("conversation__unread"), False))
    return tips.select_related("assignee").prefetch_related("tags")


def inbox_tips(editor: Editor, filters: InboxFilters, user_id: int) -> QuerySet[ReadableTip]:
    return _filtered(editor, filters, user_id).order_by("-id")


def status_counts(editor: Editor, filters: InboxFilters, user_id: int) -> dict[str, int]:
    """Tips per status under every filter but the status itself (for the tabs)."""
    return _counts(editor, filters, user_id, newer=None).counts


@dataclass(frozen=True)
class _Counts:
    counts: dict[str, int]  # per status, in the filters' group
    newer: dict[str, int]  # per status, in the filters' group, matching ``newer``
    other: dict[str, int]  # per status, in the other group (empty when both are shown)


def _counts(editor: Editor, filters: InboxFilters, user_id: int, *, newer: Q | None) -> _Counts:
    """Per status and group: all tips, and those matching ``newer`` (on the grant's tip id).

    One query for both groups (flood or not), so the link to the other group
    costs nothing more than the tabs.
    """
    tips = _without_status_filter(readable_tips(editor), replace(filters, flood=None), user_id)
    groups = tips.order_by().values("status", "arrived_in_flood")
    if newer is None:
        rows = [
            (row["status"], row["arrived_in_flood"], row["n"], 0)
            for row in groups.annotate(n=Count("id"))
        ]
    else:
        rows = [
            (row["status"], row["arrived_in_flood"], row["n"], row["newer"])
            for row in groups.annotate(n=Count("id"), newer=Count("id", filter=newer))
        ]
    empty = {status: 0 for status in Tip.Status.values}
    counts, newer_counts, other = dict(empty), dict(empty), dict(empty)
    for status, in_flood, n, newer_n in rows:
        if filters.flood is None or in_flood == filters.flood:
            counts[status] += n
            newer_counts[status] += newer_n
        else:
            other[status] += n
    return _Counts(counts, newer_counts, other)


def inbox_page(
    editor: Editor,
    filters: InboxFilters,
    user_id: int,
    cursor: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> InboxPage:
    """One page of the inbox at ``cursor``: the counts, the rows and the tags' prefetch,
    three queries at any depth.

    The counts come first, so the page knows before reading rows whether the
    cursor still points into the list: a cursor nothing is older than (the list
    got shorter, or a made-up id) shows the oldest page, and one with at most a
    page of tips above it shows the first page, so walking Newer always ends
    on the real first page.
    """
    cursor = cursor or Cursor()
    if cursor.before is not None:
        newer = Q(id__gte=cursor.before)
    elif cursor.after is not None:
        newer = Q(id__gt=cursor.after)
    else:
        newer = None
    grouped = _counts(editor, filters, user_id, newer=newer)
    counts, newer_counts = grouped.counts, grouped.newer
    if filters.status:
        total, beyond = counts[filters.status], newer_counts[filters.status]
        other_total = grouped.other[filters.status]
    else:
        total, beyond = sum(counts.values()), sum(newer_counts.values())
        other_total = sum(grouped.other.values())

    if cursor.before is not None and beyond < total:
        # The tips just older than the cursor; one more row says if there are older ones.
        query = _filtered(editor, filters, user_id, below=cursor.before).order_by("-id")
        rows = list(query[: size + 1])
        tips, has_older, newer_count = rows[:size], len(rows) > size, beyond
    elif cursor.before is not None:
        # Nothing is older than the cursor: the oldest page.
        tips = list(_filtered(editor, filters, user_id).order_by("id")[:size])[::-1]
        has_older, newer_count = False, max(total - len(tips), 0)
    elif cursor.after is not None and beyond > size:
        # The tips just newer than the cursor, read upwards from it, shown newest first.
        query = _filtered(editor, filters, user_id, above=cursor.after).order_by("id")
        tips = list(query[:size])[::-1]
        has_older, newer_count = total > beyond, max(beyond - len(tips), 0)
    else:
        # No cursor, or at most a page above it: the first page.
        rows = list(_filtered(editor, filters, user_id).order_by("-id")[: size + 1])
        tips, has_older, newer_count = rows[:size], len(rows) > size, 0
    return InboxPage(
        tips=tips,
        counts=counts,
        total=total,
        newer_count=newer_count,
        has_older=has_older,
        size=size,
        other_group_total=other_total,
    )


def tip_preview(tip: ReadableTip, editor: Editor) -> str:
    """The start of the note, on one line; empty if the note is empty or cannot be opened."""
    try:
        tip_key = tip_key_open(tip=tip, wrapped_key=tip.wrapped_key, private_key=editor.private_key)
        note = tip_content_open(tip, tip_key=tip_key)["note"]
    except (CryptoError, ValueError, KeyError):
        return ""
    flat = " ".join(note.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"
