"""What the tip page shows: everything decrypted for one request, nothing kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils import timezone

from tipline.models import Attachment, Grant, RecipientKey, RetentionPolicy, Tip
from tipline.report_text import report_lines
from tipline.retention.policy import tip_deletion_date
from tipline.sanitize import SanitizeStatus
from tipline.sealed import (
    Part,
    TipContent,
    attachment_blob_open,
    attachment_name_open,
    attachment_report_open,
    attachment_safe_text_open,
    editor_note_open,
    tip_content_open,
)

# Cleaned pictures of these types are shown inline; anything else is download-only.
PREVIEWABLE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
CLEANED = frozenset({SanitizeStatus.CLEANED, SanitizeStatus.CLEANED_REENCODED})


@dataclass(frozen=True)
class SafePageView:
    number: int
    text: str


@dataclass(frozen=True)
class FileView:
    attachment: Attachment
    name: str
    size: int
    report: list[str]
    # The safe copy's pages (tipline/worker/safe_copy.py), once it is made.
    safe_pages: tuple[SafePageView, ...] = ()

    @property
    def number(self) -> int:
        return self.attachment.position + 1

    @property
    def processed(self) -> bool:
        return self.attachment.state == Attachment.State.DONE

    @property
    def cleaned(self) -> bool:
        return attachment_is_cleaned(self.attachment)

    @property
    def previewable(self) -> bool:
        return self.cleaned and self.attachment.mime_type in PREVIEWABLE_TYPES

    @property
    def downloadable(self) -> bool:
        return self.processed and bool(self.attachment.clean_blob)

    @property
    def safe_copy_pending(self) -> bool:
        return self.attachment.safe_copy == Attachment.SafeCopy.PENDING

    @property
    def safe_copy_failed(self) -> bool:
        return self.attachment.safe_copy == Attachment.SafeCopy.FAILED


def attachment_is_cleaned(attachment: Attachment) -> bool:
    return attachment.state == Attachment.State.DONE and attachment.sanitize_status in CLEANED


@dataclass(frozen=True)
class NoteView:
    author: str
    written_at: object
    body: str


@dataclass(frozen=True)
class TipPage:
    content: TipContent
    files: list[FileView]
    notes: list[NoteView]
    readers: list[RecipientKey]


def _shown_size(attachment: Attachment) -> int:
    # The stored (cleaned) size once processed; until then, what arrived.
    return attachment.received_size if attachment.stored_size is None else attachment.stored_size


def tip_page_build(tip: Tip, *, tip_key: bytes) -> TipPage:
    files = [
        FileView(
            attachment,
            attachment_name_open(attachment, tip_key=tip_key),
            _shown_size(attachment),
            report_lines(attachment_report_open(attachment, tip_key=tip_key)),
            _safe_pages(attachment, tip_key=tip_key),
        )
        for attachment in tip.attachments.all()
    ]
    notes = [
        NoteView(
            note.author.get_username() if note.author else "",
            note.written_at,
            editor_note_open(note, tip_key=tip_key),
        )
        for note in tip.editor_notes.select_related("author")
    ]
    readers = [
        grant.recipient
        for grant in Grant.objects.filter(tip=tip, recipient__kind=RecipientKey.Kind.EDITOR)
        .select_related("recipient__user")
        .order_by("recipient__user__username")
    ]
    return TipPage(tip_content_open(tip, tip_key=tip_key), files, notes, readers)


def _safe_pages(attachment: Attachment, *, tip_key: bytes) -> tuple[SafePageView, ...]:
    if attachment.safe_copy != Attachment.SafeCopy.DONE:
        return ()
    pages = attachment_safe_text_open(attachment, tip_key=tip_key)
    return tuple(SafePageView(number, page["text"]) for number, page in enumerate(pages, 1))


def safe_page_read(attachment: Attachment, page: int, *, tip_key: bytes) -> bytes | None:
    """The JPEG of the safe copy's page ``page`` (from 1), or None if there is no such page."""
    pages = attachment_safe_text_open(attachment, tip_key=tip_key)
    if not 1 <= page <= len(pages):
        return None
    entry = pages[page - 1]
    with attachment_blob_open(attachment, Part.SAFE_PAGES, tip_key=tip_key) as reader:
        reader.seek(entry["offset"])
        return reader.read(entry["length"])


@dataclass(frozen=True)
class Retention:
    """When the tip goes, for the tip page: a date, or None under a legal hold."""

    deletion_date: date | None
    due: bool  # the date has come: the next daily purge deletes it
    days: int  # the period its status is given


def tip_retention(tip: Tip) -> Retention:
    policy = RetentionPolicy.current()
    deletion = tip_deletion_date(tip, policy)
    due = deletion is not None and deletion <= timezone.localdate()
    return Retention(deletion, due, policy.days_for(tip.status))


def tip_recoverable(tip: Tip) -> bool:
    """Whether the active recovery key has a grant (a rotation by someone who could not
    read the tip leaves it with an older recovery key only)."""
    return Grant.objects.filter(
        tip=tip, recipient__kind=RecipientKey.Kind.RECOVERY, recipient__active=True
    ).exists()
