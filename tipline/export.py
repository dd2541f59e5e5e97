"""Decrypting tips with the recovery key into plain folders, on the admin's machine.

This is the one place where plaintext is written to a disk on purpose: the
admin asked for it, on a machine they chose, with the offline key.
"""

from __future__ import annotations

import os
from pathlib import Path

from tipline.crypto import PrivateKey
from tipline.filenames import safe_filename
from tipline.keyring import tip_key_unwrap
from tipline.models import Attachment, RecipientKey, Tip
from tipline.private_files import private_file_create, private_file_write
from tipline.report_text import report_lines
from tipline.sealed import (
    Part,
    attachment_blob_name,
    attachment_blob_open,
    attachment_name_open,
    attachment_report_open,
    tip_content_open,
)
from tipline.storage import copy_stream

NOT_CLEANED_YET = "ORIGINAL, NOT YET CLEANED: may still hold metadata"


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 1
    stem, dot, extension = name.rpartition(".")
    while candidate.lower() in taken:
        number += 1
        candidate = f"{stem} ({number}).{extension}" if dot else f"{name} ({number})"
    taken.add(candidate.lower())
    return candidate


def _write_text(path: Path, text: str) -> None:
    private_file_write(path, text)


def tip_export(
    *, tip: Tip, recipient: RecipientKey, private_key: PrivateKey, output_dir: Path
) -> Path:
    """Write one folder for ``tip``: note, links, every file under its cleaned-up name, reports."""
    tip_key = tip_key_unwrap(tip=tip, recipient=recipient, private_key=private_key)
    folder = output_dir / tip.reference
    (folder / "files").mkdir(mode=0o700, parents=True, exist_ok=True)
    content = tip_content_open(tip, tip_key=tip_key)
    _write_text(folder / "note.txt", content["note"] + ("\n" if content["note"] else ""))
    _write_text(folder / "links.txt", "".join(f"{link}\n" for link in content["links"]))
    taken: set[str] = set()
    summary = [
        f"Tip {tip.reference}",
        f"Received: {tip.received_on:%Y-%m-%d}",
        f"Status: {tip.status}",
        "",
    ]
    for attachment in tip.attachments.all():
        summary.extend(_export_attachment(attachment, tip_key=tip_key, folder=folder, taken=taken))
    _write_text(folder / "summary.txt", "\n".join(summary) + "\n")
    return folder


def _export_attachment(
    attachment: Attachment, *, tip_key: bytes, folder: Path, taken: set[str]
) -> list[str]:
    original = attachment_name_open(attachment, tip_key=tip_key)
    name = _unique(
        safe_filename(original, fallback=f"file-{attachment.position + 1}"),
        taken,
    )
    part = Part.CLEAN if attachment.state == Attachment.State.DONE else Part.RAW
    if not attachment_blob_name(attachment, part):
        return [f"{name}: not available ({attachment.get_state_display()})"]
    with (
        attachment_blob_open(attachment, part, tip_key=tip_key) as decrypted,
        os.fdopen(private_file_create(folder / "files" / name), "wb") as plain,
    ):
        copy_stream(decrypted, plain)
    report = _report_lines(attachment, tip_key=tip_key)
    _write_text(folder / "files" / f"{name}.report.txt", "\n".join(report) + "\n")
    state = "cleaned copy" if part == Part.CLEAN else NOT_CLEANED_YET
    return [f"{name}: {state}", *(f"  {line}" for line in report)]


def _report_lines(attachment: Attachment, *, tip_key: bytes) -> list[str]:
    lines = report_lines(attachment_report_open(attachment, tip_key=tip_key))
    return lines or ["No sanitization report: the file was not processed."]
