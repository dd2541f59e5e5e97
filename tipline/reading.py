"""Opening a tip's small encrypted objects once its key is in hand.

One place for the object identities and formats, shared by the staff pages,
the source's confirmation and the offline export.
"""

from __future__ import annotations

import json
from typing import TypedDict

from tipline.crypto import decrypt_bytes, encrypt_bytes
from tipline.models import Attachment, EditorNote, Tip
from tipline.sanitize import Report, describe


class TipContent(TypedDict):
    note: str
    links: list[str]


def tip_content_open(tip: Tip, *, tip_key: bytes) -> TipContent:
    document = decrypt_bytes(
        bytes(tip.content_sealed), tip_key=tip_key, object_id=tip.object_id("content")
    )
    return json.loads(document)


def attachment_name_open(attachment: Attachment, *, tip_key: bytes) -> str:
    name = decrypt_bytes(
        bytes(attachment.name_sealed), tip_key=tip_key, object_id=attachment.object_id("name")
    )
    return name.decode("utf-8", "replace")


def attachment_report_open(attachment: Attachment, *, tip_key: bytes) -> Report | None:
    if not attachment.report_sealed:
        return None
    document = decrypt_bytes(
        bytes(attachment.report_sealed), tip_key=tip_key, object_id=attachment.object_id("report")
    )
    return Report.from_dict(json.loads(document))


def attachment_report_lines(attachment: Attachment, *, tip_key: bytes) -> list[str]:
    """The sanitization report in sentences, or [] while the file is not processed."""
    report = attachment_report_open(attachment, tip_key=tip_key)
    return [str(line) for line in describe(report)] if report else []


def editor_note_seal(note: EditorNote, body: str, *, tip_key: bytes) -> None:
    note.body_sealed = encrypt_bytes(
        body.encode("utf-8"), tip_key=tip_key, object_id=note.object_id()
    )


def editor_note_open(note: EditorNote, *, tip_key: bytes) -> str:
    body = decrypt_bytes(bytes(note.body_sealed), tip_key=tip_key, object_id=note.object_id())
    return body.decode("utf-8")
