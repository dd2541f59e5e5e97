"""Decrypting tips with the recovery key into plain folders, on the admin's machine.

This is the one place where plaintext is written to a disk on purpose: the
admin asked for it, on a machine they chose, with the offline key.

What is written, per tip (``<output>/<reference>/``, a folder that must not exist yet):

- ``note.txt``, ``links.txt`` and ``summary.txt``, the export's own files;
- ``conversation.txt``, when the source came back: every message both ways,
  each headed by its day and who wrote it (editor or source); a reply an
  editor deleted is gone from the database and so from the export;
- ``files/<name>``, each file under the source's name made safe
  (``safe_filename``), ``files/<name>.report.txt``, its sanitization report, and
  ``files/<name>.safe.pdf``, its safe copy (pictures of its pages) where there is one.

A source chooses its files' names, so a name must never pass for a file the
export writes itself: a name the export reserves (``note.txt``, ``links.txt``,
``summary.txt``, ``conversation.txt``, anything ending in ``.report.txt`` or
``.safe.pdf``; compared case-insensitively and after Unicode compatibility
folding) gets `` (source file)`` before its extension, and names that differ
only in case are numbered, for file systems that do not tell them apart. Every
file is created with ``O_EXCL`` and ``O_NOFOLLOW`` (``private_file_create``):
nothing already there, or planted, is written into. Each file is labelled, in
``summary.txt`` and its report, by what it really is: a cleaned copy, or the
original as the source sent it (not cleanable, damaged, or not cleaned yet).
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from tipline.conversation.services import conversation_entries, conversation_key_for_reader
from tipline.crypto import PrivateKey
from tipline.filenames import safe_filename
from tipline.keyring import tip_key_unwrap
from tipline.models import Attachment, Message, RecipientKey, Tip
from tipline.private_files import private_file_create, private_file_write
from tipline.report_text import report_lines
from tipline.sanitize import SanitizeStatus
from tipline.sealed import (
    Part,
    attachment_blob_name,
    attachment_blob_open,
    attachment_name_open,
    attachment_report_open,
    tip_content_open,
)
from tipline.storage import copy_stream

NOTE_FILE = "note.txt"
LINKS_FILE = "links.txt"
SUMMARY_FILE = "summary.txt"
CONVERSATION_FILE = "conversation.txt"
FILES_FOLDER = "files"
REPORT_SUFFIX = ".report.txt"
# A file's safe copy (pictures of its pages, tipline/worker/safe_copy.py), next to it.
SAFE_COPY_SUFFIX = ".safe.pdf"
# Put before the extension of a source's file whose name the export reserves.
SOURCE_FILE_MARK = " (source file)"
_RESERVED_NAMES = frozenset({NOTE_FILE, LINKS_FILE, SUMMARY_FILE, CONVERSATION_FILE})

# What each exported file is, by the attachment's state and sanitize_status.
CLEANED_COPY = _("cleaned copy: metadata removed")
NOT_CLEANABLE = _("ORIGINAL, COULD NOT BE CLEANED: stored as the source sent it; may hold metadata")
DAMAGED = _(
    "ORIGINAL, DAMAGED: could not be cleaned; may hold metadata or something hostile. "
    "Open it only on an isolated machine"
)
NOT_CLEANED_YET = _("ORIGINAL, NOT YET CLEANED: may still hold metadata")
STATUS_UNKNOWN = _("ORIGINAL OR CLEANED, NOT KNOWN: treat it as not cleaned")
NOT_AVAILABLE = _("not available: processing failed, nothing was kept")
NO_REPORT = _("No sanitization report: the file was not processed.")
SENT_LATER = _("sent later by the source, through the conversation")
RENAMED = _(
    "(the source named it “%(name)s”: renamed, as that name is taken or kept for "
    "the export's own files)"
)

_DONE_LABELS: dict[str, Promise] = {
    SanitizeStatus.CLEANED: CLEANED_COPY,
    SanitizeStatus.CLEANED_REENCODED: CLEANED_COPY,
    SanitizeStatus.NOT_SANITIZED: NOT_CLEANABLE,
    SanitizeStatus.DAMAGED: DAMAGED,
}


class ExportError(Exception):
    """The export cannot go on safely; the message is safe to show the operator."""


def _folded(name: str) -> str:
    """The form names are compared in: a file system may not tell these apart."""
    return unicodedata.normalize("NFKC", name).casefold()


def _is_reserved(name: str) -> bool:
    folded = _folded(name)
    return (
        folded in _RESERVED_NAMES
        or folded.endswith(REPORT_SUFFIX)
        or folded.endswith(SAFE_COPY_SUFFIX)
    )


def _marked_as_source_file(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    return f"{stem}{SOURCE_FILE_MARK}.{extension}" if dot and stem else name + SOURCE_FILE_MARK


def _numbered(name: str, number: int) -> str:
    stem, dot, extension = name.rpartition(".")
    return f"{stem} ({number}).{extension}" if dot and stem else f"{name} ({number})"


def export_name(original: str, *, fallback: str, taken: set[str]) -> str:
    """The name a source's file gets in ``files/``: safe, not reserved, unique; recorded
    in ``taken`` with its report's name."""
    name = safe_filename(original, fallback=fallback)
    if _is_reserved(name):
        name = _marked_as_source_file(name)
    candidate, number = name, 1
    while _folded(candidate) in taken or _is_reserved(candidate):
        number += 1
        candidate = _numbered(name, number)
    taken.update(
        {
            _folded(candidate),
            _folded(candidate + REPORT_SUFFIX),
            _folded(candidate + SAFE_COPY_SUFFIX),
        }
    )
    return candidate


def attachment_label(attachment: Attachment) -> Promise:
    """What the exported file is, in words (for summary.txt and the file's report)."""
    if attachment.state == Attachment.State.RECEIVED:
        return NOT_CLEANED_YET
    if attachment.state == Attachment.State.FAILED:
        return NOT_AVAILABLE
    return _DONE_LABELS.get(attachment.sanitize_status, STATUS_UNKNOWN)


def _folder_create(path: Path) -> None:
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        raise ExportError(f"{path} already exists: export into a folder that does not") from None


def tip_export(
    *, tip: Tip, recipient: RecipientKey, private_key: PrivateKey, output_dir: Path
) -> Path:
    """Write one new folder for ``tip``: note, links, every file under a safe name, reports."""
    tip_key = tip_key_unwrap(tip=tip, recipient=recipient, private_key=private_key)
    folder = output_dir / tip.reference
    _folder_create(folder)
    _folder_create(folder / FILES_FOLDER)
    content = tip_content_open(tip, tip_key=tip_key)
    private_file_write(folder / NOTE_FILE, content["note"] + ("\n" if content["note"] else ""))
    private_file_write(folder / LINKS_FILE, "".join(f"{link}\n" for link in content["links"]))
    taken: set[str] = set()
    summary = [
        str(_("Tip %(reference)s") % {"reference": tip.reference}),
        str(_("Received: %(day)s") % {"day": f"{tip.received_on:%Y-%m-%d}"}),
        str(_("Status: %(status)s") % {"status": tip.get_status_display()}),
        "",
    ]
    for attachment in tip.attachments.all():
        exported = _export_attachment(attachment, tip_key=tip_key, folder=folder, taken=taken)
        summary.extend(exported.summary_lines())
    private_file_write(folder / SUMMARY_FILE, "\n".join(summary) + "\n")
    _export_conversation(tip, tip_key=tip_key, folder=folder)
    return folder


def _export_conversation(tip: Tip, *, tip_key: bytes, folder: Path) -> None:
    """``conversation.txt``: each message under its day and author; nothing without one."""
    conversation_key = conversation_key_for_reader(tip=tip, tip_key=tip_key)
    if conversation_key is None:
        return
    entries = conversation_entries(tip=tip, conversation_key=conversation_key)
    if not entries:
        return
    blocks = [
        f"{entry.day:%Y-%m-%d} · {Message.Author(entry.author).label}\n{entry.body}\n"
        for entry in entries
    ]
    private_file_write(folder / CONVERSATION_FILE, "\n".join(blocks))


@dataclass(frozen=True)
class _Exported:
    name: str
    source_name: str  # the source's name made safe, when the export had to change it
    label: str
    report: list[str]

    sent_later: bool = False

    def summary_lines(self) -> list[str]:
        lines = [f"{self.name}: {self.label}"]
        if self.sent_later:
            lines.append("  " + str(SENT_LATER))
        if self.source_name:
            lines.append("  " + str(RENAMED % {"name": self.source_name}))
        return lines + [f"  {line}" for line in self.report]


def _export_attachment(
    attachment: Attachment, *, tip_key: bytes, folder: Path, taken: set[str]
) -> _Exported:
    original = attachment_name_open(attachment, tip_key=tip_key)
    fallback = f"file-{attachment.position + 1}"
    name = export_name(original, fallback=fallback, taken=taken)
    safe_original = safe_filename(original, fallback=fallback)
    source_name = safe_original if safe_original != name else ""
    label = str(attachment_label(attachment))
    part = Part.CLEAN if attachment.state == Attachment.State.DONE else Part.RAW
    if attachment.state == Attachment.State.FAILED or not attachment_blob_name(attachment, part):
        return _Exported(name, source_name, str(NOT_AVAILABLE), [], attachment.sent_later)
    with (
        attachment_blob_open(attachment, part, tip_key=tip_key) as decrypted,
        os.fdopen(private_file_create(folder / FILES_FOLDER / name), "wb") as plain,
    ):
        copy_stream(decrypted, plain)
    if attachment.safe_copy == Attachment.SafeCopy.DONE:
        _export_safe_copy(attachment, tip_key=tip_key, path=folder / FILES_FOLDER / name)
    report = _report_lines(attachment, tip_key=tip_key)
    report_text = "\n".join([label, "", *report]) + "\n"
    private_file_write(folder / FILES_FOLDER / (name + REPORT_SUFFIX), report_text)
    return _Exported(name, source_name, label, report, attachment.sent_later)


def _export_safe_copy(attachment: Attachment, *, tip_key: bytes, path: Path) -> None:
    with (
        attachment_blob_open(attachment, Part.SAFE_PDF, tip_key=tip_key) as decrypted,
        os.fdopen(private_file_create(path.with_name(path.name + SAFE_COPY_SUFFIX)), "wb") as plain,
    ):
        copy_stream(decrypted, plain)


def _report_lines(attachment: Attachment, *, tip_key: bytes) -> list[str]:
    lines = report_lines(attachment_report_open(attachment, tip_key=tip_key))
    return lines or [str(NO_REPORT)]
