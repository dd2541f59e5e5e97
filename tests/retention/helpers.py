"""Tips made directly (rows, real encrypted blobs, real grants), fast enough for many per test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from django.utils import timezone

from tipline.crypto import encrypt_bytes, new_tip_key
from tipline.keyring import grants_create_for_new_tip
from tipline.models import Attachment, EditorNote, Tip
from tipline.sealed import Part, attachment_object_id, editor_note_object_id, tip_content_seal
from tipline.storage import new_blob_name, write_blob

NOTE = "Los camiones salen del puerto el martes"
FILE_NAME = "IMG_20240312_Finca_Ramirez.jpg"
FILE_BYTES = b"\xff\xd8\xff\xe0 a picture of the harbour " * 40


@dataclass
class MadeTip:
    tip: Tip
    blobs: list[str]


def tip_make(
    *,
    changed_on: date | None = None,
    status: str = Tip.Status.NEW,
    files: int = 1,
    hold: bool = False,
    editor_note: bool = False,
    pipeline: bool = False,
) -> MadeTip:
    """A tip like one that went through the pipeline: each file has a clean blob and a thumbnail."""
    changed_on = changed_on or timezone.localdate()
    tip_key = new_tip_key()
    tip = Tip(
        status=status,
        received_on=datetime.combine(changed_on, time(0), tzinfo=UTC),
        status_changed_on=changed_on,
        legal_hold=hold,
        file_count=files,
    )
    tip.content_sealed = tip_content_seal(tip=tip, tip_key=tip_key, note=NOTE, links=[])
    tip.save()
    blobs: list[str] = []
    for position in range(files):
        attachment = Attachment(
            tip=tip,
            position=position,
            received_size=len(FILE_BYTES),
            stored_size=len(FILE_BYTES),
            state=Attachment.State.DONE,
            clean_blob=new_blob_name("clean"),
            thumbnail_blob=new_blob_name("thumbnail"),
        )
        attachment.name_sealed = encrypt_bytes(
            FILE_NAME.encode(),
            tip_key=tip_key,
            object_id=attachment_object_id(attachment, Part.NAME),
        )
        for name, part in (
            (attachment.clean_blob, "clean"),
            (attachment.thumbnail_blob, "thumbnail"),
        ):
            write_blob(
                name,
                encrypt_bytes(
                    FILE_BYTES,
                    tip_key=tip_key,
                    object_id=attachment_object_id(attachment, Part(part)),
                ),
            )
            blobs.append(name)
        attachment.save()
    if editor_note:
        note = EditorNote(tip=tip, written_at=timezone.now())
        note.body_sealed = encrypt_bytes(
            b"call the source back", tip_key=tip_key, object_id=editor_note_object_id(note)
        )
        note.save()
    grants_create_for_new_tip(tip=tip, tip_key=tip_key, include_pipeline=pipeline)
    return MadeTip(tip, blobs)
