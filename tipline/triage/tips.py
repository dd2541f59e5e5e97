"""What editors change on a tip: status, assignee, tags, internal notes. Each change is audited."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from tipline.accounts.session import Editor
from tipline.audit import Action, Actor, actor_of, audit_record
from tipline.models import Attachment, EditorNote, Tag, Tip
from tipline.sealed import editor_note_seal
from tipline.triage.inbox import readable_tips

MAX_TAG_CHARS = 40


@transaction.atomic
def tip_status_set(*, tip: Tip, status: str, actor: Actor) -> bool:
    if status not in Tip.Status.values:
        raise ValueError("unknown status")
    if tip.status == status:
        return False
    previous, tip.status = tip.status, status
    tip.status_changed_on = timezone.localdate()  # the retention period starts again
    tip.save(update_fields=["status", "status_changed_on"])
    audit_record(
        actor=actor,
        action=Action.STATUS_CHANGED,
        tip_reference=tip.reference,
        detail={"from": previous, "to": status},
    )
    return True


@transaction.atomic
def tips_status_set(*, tips: Iterable[Tip], status: str, actor: Actor) -> int:
    """One status for several tips, all or none; returns how many changed."""
    return sum(tip_status_set(tip=tip, status=status, actor=actor) for tip in tips)


@transaction.atomic
def flood_discard(*, editor: Editor, actor: Actor) -> int:
    """Discard every new tip that arrived during a flood and that ``editor`` can read.

    Tips the editor cannot read are not touched, whoever else can read them.
    Tips someone already moved on from "new" (verified, in review, ...) keep
    their status: a source found in the flood must not be discarded with it.
    One UPDATE and one audit entry with the count, however large the flood;
    the retention period of "discarded" starts today for each of them.
    """
    readable = readable_tips(editor).filter(arrived_in_flood=True, status=Tip.Status.NEW)
    count = Tip.objects.filter(pk__in=readable.values("pk")).update(
        status=Tip.Status.DISCARDED, status_changed_on=timezone.localdate()
    )
    audit_record(actor=actor, action=Action.FLOOD_DISCARDED, detail={"count": count})
    return count


@transaction.atomic
def tip_assignee_set(*, tip: Tip, assignee: User | None, actor: Actor) -> None:
    tip.assignee = assignee
    tip.save(update_fields=["assignee"])
    audit_record(
        actor=actor,
        action=Action.ASSIGNEE_CHANGED,
        tip_reference=tip.reference,
        detail={"to": assignee.get_username() if assignee else ""},
    )


def tag_names_parse(text: str) -> list[str]:
    """Comma-separated tag names, trimmed, de-duplicated case-insensitively, in order."""
    seen: dict[str, str] = {}
    for raw in text.split(","):
        name = " ".join(raw.split())[:MAX_TAG_CHARS]
        if name and name.casefold() not in seen:
            seen[name.casefold()] = name
    return list(seen.values())


@transaction.atomic
def tip_tags_set(*, tip: Tip, names: list[str], actor: Actor) -> None:
    """Replace the tip's tags; unknown names become new tags (matched case-insensitively)."""
    tags = []
    for name in names:
        tag = Tag.objects.filter(name__iexact=name).first() or Tag.objects.create(name=name)
        tags.append(tag)
    tip.tags.set(tags)
    audit_record(
        actor=actor,
        action=Action.TAGS_CHANGED,
        tip_reference=tip.reference,
        detail={"tags": [tag.name for tag in tags]},
    )


@transaction.atomic
def editor_note_add(*, tip: Tip, tip_key: bytes, body: str, author: User) -> EditorNote:
    """An internal note, encrypted under the tip key; the audit log says only that it exists."""
    note = EditorNote(tip=tip, author=author, written_at=timezone.now())
    editor_note_seal(note, body, tip_key=tip_key)
    note.save()
    audit_record(actor=actor_of(author), action=Action.NOTE_ADDED, tip_reference=tip.reference)
    return note


def tip_viewed_record(*, tip: Tip, actor: Actor) -> None:
    """Opening a tip is on record: who read what is part of the newsroom's duty of care."""
    audit_record(actor=actor, action=Action.TIP_VIEWED, tip_reference=tip.reference)


def file_served_record(*, attachment: Attachment, actor: Actor, inline: bool) -> None:
    """A file shown or downloaded, on record (its number, never its name)."""
    audit_record(
        actor=actor,
        action=Action.FILE_DOWNLOADED,
        tip_reference=attachment.tip.reference,
        detail={"file": attachment.position + 1, "inline": inline},
    )
