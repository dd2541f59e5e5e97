"""Every encrypted object of a tip: its identity, its part name, and how it is sealed and opened.

A tip's objects are all encrypted under subkeys of the one tip key, each bound
to the object's identity (its *object id*, ``tip/<tip key id>/...``), so a
ciphertext moved from one object to another does not decrypt. This module is
the only place that knows those identities and formats; the intake, the
worker, the staff pages and the offline export all seal and open through it.

Small objects live in database columns (``*_sealed``); large ones are blobs in
the storage, written and read as chunked encrypted streams. Adding a kind of
object means adding its ``Part``, its object id and its seal/open pair here.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Iterator, Sequence
from typing import BinaryIO, TypedDict

from tipline.crypto import (
    DecryptingReader,
    DecryptionError,
    EncryptingWriter,
    decrypt_bytes,
    encrypt_bytes,
    open_secret,
    seal_secret,
)
from tipline.models import Attachment, Conversation, EditorNote, Message, PendingUpload, Tip
from tipline.sanitize import Report
from tipline.storage import (
    new_blob_name,
    open_blob_for_read,
    open_blob_for_write,
    read_blob,
    write_blob,
)


class Part(enum.StrEnum):
    """The last element of an object id: which object of the tip (or of its file) it is."""

    CONTENT = "content"  # the note and the links, one JSON document (Tip.content_sealed)
    NAME = "name"  # a file's name as the source's device gave it (Attachment.name_sealed)
    REPORT = "report"  # what cleaning did to a file (Attachment.report_sealed)
    RAW = "raw"  # blob: a file as it arrived; deleted once it is cleaned
    CLEAN = "clean"  # blob: the cleaned file (the original when it could not be cleaned)
    THUMBNAIL = "thumbnail"  # blob: a small JPEG made from a cleaned picture
    EDITOR_NOTE = "editor-note"  # an editor's internal note (EditorNote.body_sealed)
    # Sources come back (tipline/conversation/): the conversation key, sealed under
    # the tip key for the readers (Conversation.key_for_readers), and each message
    # both ways, sealed under the conversation key (Message.body_sealed).
    CONVERSATION_KEY = "conversation-key"
    MESSAGE = "message"
    # A file's safe copy (tipline/worker/safe_copy.py): the new image-only PDF
    # (blob), its pages as JPEGs one after the other (blob), and where each page
    # lies in that blob with its OCR text (Attachment.safe_text_sealed).
    SAFE_PDF = "safe-pdf"
    SAFE_PAGES = "safe-pages"
    SAFE_TEXT = "safe-text"


# The parts stored as blobs; each is also the blob name's first folder.
BLOB_PARTS = (Part.RAW, Part.CLEAN, Part.THUMBNAIL, Part.SAFE_PDF, Part.SAFE_PAGES)


# --- Identities ---------------------------------------------------------------------


def tip_object_id(tip_key_id: uuid.UUID, *parts: str) -> str:
    """The identity an encrypted object of the tip with ``tip_key_id`` is bound to."""
    return "/".join(["tip", str(tip_key_id), *parts])


def file_object_id(*, tip_key_id: uuid.UUID, file_key_id: uuid.UUID, part: Part) -> str:
    """A file's object id; the upload handler needs it before any row exists."""
    return tip_object_id(tip_key_id, "file", str(file_key_id), part)


def attachment_object_id(attachment: Attachment, part: Part) -> str:
    return file_object_id(
        tip_key_id=attachment.tip.key_id, file_key_id=attachment.key_id, part=part
    )


def attachment_key(attachment: Attachment, *, tip_key: bytes) -> bytes:
    """The key a file's objects are under: the tip key, or for a file the source sent
    later, the conversation key (opened with the tip key). Callers pass the tip key.

    The one exception is the worker: once the tip's own files are done, the
    pipeline's grant holds the conversation key itself (the source, who sends
    the later files, never holds the tip key; docs/crypto.md). A key that does
    not open the conversation key is then taken as the conversation key: the
    AEAD tells the two apart, and a wrong key still opens nothing.
    """
    if not attachment.sent_later:
        return tip_key
    conversation = Conversation.objects.get(tip_id=attachment.tip_id)
    try:
        return conversation_key_open(conversation, tip_key=tip_key)
    except DecryptionError:
        return tip_key


def editor_note_object_id(note: EditorNote) -> str:
    return tip_object_id(note.tip.key_id, Part.EDITOR_NOTE, str(note.key_id))


# --- Small objects in columns -----------------------------------------------------------


class TipContent(TypedDict):
    note: str
    links: list[str]


def tip_content_seal(*, tip: Tip, tip_key: bytes, note: str, links: Sequence[str]) -> bytes:
    document = json.dumps({"note": note, "links": list(links)}, ensure_ascii=False)
    return encrypt_bytes(
        document.encode("utf-8"), tip_key=tip_key, object_id=tip_object_id(tip.key_id, Part.CONTENT)
    )


def tip_content_open(tip: Tip, *, tip_key: bytes) -> TipContent:
    document = decrypt_bytes(
        bytes(tip.content_sealed),
        tip_key=tip_key,
        object_id=tip_object_id(tip.key_id, Part.CONTENT),
    )
    return json.loads(document)


def attachment_name_seal(attachment: Attachment, name: str, *, tip_key: bytes) -> None:
    """Seal a file's name. ``tip_key`` is the key of the file's objects: the tip
    key, or the conversation key for a file sent later (its row is being made)."""
    attachment.name_sealed = encrypt_bytes(
        name.encode("utf-8"), tip_key=tip_key, object_id=attachment_object_id(attachment, Part.NAME)
    )


def attachment_name_open(attachment: Attachment, *, tip_key: bytes) -> str:
    name = decrypt_bytes(
        bytes(attachment.name_sealed),
        tip_key=attachment_key(attachment, tip_key=tip_key),
        object_id=attachment_object_id(attachment, Part.NAME),
    )
    return name.decode("utf-8", "replace")


def attachment_report_seal(attachment: Attachment, report: Report, *, tip_key: bytes) -> None:
    document = json.dumps(report.to_dict(), ensure_ascii=False).encode("utf-8")
    attachment.report_sealed = encrypt_bytes(
        document,
        tip_key=attachment_key(attachment, tip_key=tip_key),
        object_id=attachment_object_id(attachment, Part.REPORT),
    )


def attachment_report_open(attachment: Attachment, *, tip_key: bytes) -> Report | None:
    """The sanitization report, or None while the file is not processed."""
    if not attachment.report_sealed:
        return None
    document = decrypt_bytes(
        bytes(attachment.report_sealed),
        tip_key=attachment_key(attachment, tip_key=tip_key),
        object_id=attachment_object_id(attachment, Part.REPORT),
    )
    return Report.from_dict(json.loads(document))


def editor_note_seal(note: EditorNote, body: str, *, tip_key: bytes) -> None:
    note.body_sealed = encrypt_bytes(
        body.encode("utf-8"), tip_key=tip_key, object_id=editor_note_object_id(note)
    )


def editor_note_open(note: EditorNote, *, tip_key: bytes) -> str:
    body = decrypt_bytes(
        bytes(note.body_sealed), tip_key=tip_key, object_id=editor_note_object_id(note)
    )
    return body.decode("utf-8")


# --- Blobs -------------------------------------------------------------------------------


class OpenBlob:
    """A stored blob opened for reading: a seekable, decrypting file object.

    The header is checked on opening, so a blob that is not this object's (or
    is damaged at its start) raises ``DecryptionError`` here, with nothing left
    open. ``close`` closes the reader and the storage's file together.
    """

    def __init__(self, name: str, *, tip_key: bytes, object_id: str) -> None:
        self._encrypted = open_blob_for_read(name)
        try:
            self.reader = DecryptingReader(self._encrypted, tip_key=tip_key, object_id=object_id)
        except DecryptionError:
            self._encrypted.close()
            raise

    def read(self, size: int = -1) -> bytes:
        return self.reader.read(size)

    def chunks(self, size: int) -> Iterator[bytes]:
        """The plaintext in pieces of ``size`` bytes (the last may be shorter)."""
        while chunk := self.reader.read(size):
            yield chunk

    def close(self) -> None:
        self.reader.close()
        self._encrypted.close()

    def __enter__(self) -> DecryptingReader:
        return self.reader

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def attachment_blob_name(attachment: Attachment, part: Part) -> str:
    names = {
        Part.RAW: attachment.raw_blob,
        Part.CLEAN: attachment.clean_blob,
        Part.THUMBNAIL: attachment.thumbnail_blob,
        Part.SAFE_PDF: attachment.safe_pdf_blob,
        Part.SAFE_PAGES: attachment.safe_pages_blob,
    }
    return names[part]


def attachment_blob_open(attachment: Attachment, part: Part, *, tip_key: bytes) -> OpenBlob:
    """One of a file's blobs, decrypting as it is read (``with ... as reader:``)."""
    return OpenBlob(
        attachment_blob_name(attachment, part),
        tip_key=attachment_key(attachment, tip_key=tip_key),
        object_id=attachment_object_id(attachment, part),
    )


class BlobWriter:
    """A new blob written as an encrypted stream, chunk by chunk as the plaintext comes.

    ``close`` finishes the stream (its last chunk is flagged) and makes the blob
    durable; ``abort`` leaves it unfinished, so a cut-off blob can never read as
    complete. Used as a context manager, an exception aborts.
    """

    def __init__(self, name: str, *, tip_key: bytes, object_id: str) -> None:
        self.name = name
        self._sink = open_blob_for_write(name)
        self.writer = EncryptingWriter(self._sink, tip_key=tip_key, object_id=object_id)

    @property
    def plaintext_size(self) -> int:
        return self.writer.plaintext_size

    def write(self, data: bytes) -> int:
        return self.writer.write(data)

    def close(self) -> None:
        self.writer.close()
        self._sink.close()

    def abort(self) -> None:
        self.writer.abort()
        self._sink.close()

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def new_file_blob(*, tip_key_id: uuid.UUID, file_key_id: uuid.UUID, tip_key: bytes) -> BlobWriter:
    """A raw blob for a file arriving now (before its row exists), under a fresh name."""
    return BlobWriter(
        new_blob_name(Part.RAW),
        tip_key=tip_key,
        object_id=file_object_id(tip_key_id=tip_key_id, file_key_id=file_key_id, part=Part.RAW),
    )


def attachment_blob_write(attachment: Attachment, part: Part, *, tip_key: bytes) -> BlobWriter:
    """Write (or rewrite, on a retry) the file's blob of ``part`` under its recorded name."""
    return BlobWriter(
        attachment_blob_name(attachment, part),
        tip_key=attachment_key(attachment, tip_key=tip_key),
        object_id=attachment_object_id(attachment, part),
    )


def attachment_thumbnail_write(attachment: Attachment, jpeg: bytes, *, tip_key: bytes) -> None:
    """Store the thumbnail under the name recorded on the attachment (sealed whole: it is small)."""
    sealed = encrypt_bytes(
        jpeg,
        tip_key=attachment_key(attachment, tip_key=tip_key),
        object_id=attachment_object_id(attachment, Part.THUMBNAIL),
    )
    write_blob(attachment.thumbnail_blob, sealed)


# --- Uploads arriving over several connections (tipline/intake/resumable.py) --------------
#
# A pending upload is written as the raw blob its attachment will have (same
# object id), so the finished stream becomes that blob unchanged; its name is
# sealed as the attachment's name will be. Its tip key is sealed under the
# secret of the source's page, bound to the form and to the tip key's id.


def _pending_tip_key_context(*, form_binding: str, tip_key_id: uuid.UUID) -> str:
    return f"pending-upload-tip-key:{form_binding}:{tip_key_id}"


def pending_tip_key_seal(
    *, secret: bytes, tip_key: bytes, form_binding: str, tip_key_id: uuid.UUID
) -> bytes:
    context = _pending_tip_key_context(form_binding=form_binding, tip_key_id=tip_key_id)
    return seal_secret(secret, tip_key, context=context)


def pending_tip_key_open(pending: PendingUpload, *, secret: bytes) -> bytes:
    """The tip key, given the page's secret; ``DecryptionError`` for any other secret."""
    context = _pending_tip_key_context(
        form_binding=pending.form_binding, tip_key_id=pending.tip_key_id
    )
    return open_secret(secret, bytes(pending.tip_key_sealed), context=context)


def pending_name_seal(
    *, tip_key_id: uuid.UUID, file_key_id: uuid.UUID, name: str, tip_key: bytes
) -> bytes:
    object_id = file_object_id(tip_key_id=tip_key_id, file_key_id=file_key_id, part=Part.NAME)
    return encrypt_bytes(name.encode("utf-8"), tip_key=tip_key, object_id=object_id)


def pending_name_open(pending: PendingUpload, *, tip_key: bytes) -> str:
    object_id = file_object_id(
        tip_key_id=pending.tip_key_id, file_key_id=pending.file_key_id, part=Part.NAME
    )
    name = decrypt_bytes(bytes(pending.name_sealed), tip_key=tip_key, object_id=object_id)
    return name.decode("utf-8", "replace")


def _pending_raw_object_id(pending: PendingUpload) -> str:
    return file_object_id(
        tip_key_id=pending.tip_key_id, file_key_id=pending.file_key_id, part=Part.RAW
    )


def pending_stream_start(
    sink: BinaryIO, pending: PendingUpload, *, tip_key: bytes
) -> EncryptingWriter:
    """A new raw stream for the pending upload (writes its header at once)."""
    return EncryptingWriter(sink, tip_key=tip_key, object_id=_pending_raw_object_id(pending))


def pending_stream_resume(
    sink: BinaryIO,
    pending: PendingUpload,
    *,
    tip_key: bytes,
    header: bytes,
    chunks_written: int,
    last_chunk: bytes | None,
) -> EncryptingWriter:
    """Continue the pending upload's raw stream (see ``EncryptingWriter.resume``)."""
    return EncryptingWriter.resume(
        sink,
        tip_key=tip_key,
        object_id=_pending_raw_object_id(pending),
        header=header,
        chunks_written=chunks_written,
        last_chunk=last_chunk,
    )


class SafePage(TypedDict):
    offset: int  # where the page's JPEG begins in the pages blob
    length: int
    width: int
    height: int
    text: str  # what OCR read on it ("" without OCR)


def attachment_safe_text_seal(
    attachment: Attachment, pages: Sequence[SafePage], *, tip_key: bytes
) -> None:
    """The safe copy's page index and OCR text, sealed (``Attachment.safe_text_sealed``)."""
    document = json.dumps({"pages": list(pages)}, ensure_ascii=False).encode("utf-8")
    attachment.safe_text_sealed = encrypt_bytes(
        document,
        tip_key=attachment_key(attachment, tip_key=tip_key),
        object_id=attachment_object_id(attachment, Part.SAFE_TEXT),
    )


def attachment_safe_text_open(attachment: Attachment, *, tip_key: bytes) -> list[SafePage]:
    """The safe copy's pages (empty when there is none)."""
    if not attachment.safe_text_sealed:
        return []
    document = decrypt_bytes(
        bytes(attachment.safe_text_sealed),
        tip_key=attachment_key(attachment, tip_key=tip_key),
        object_id=attachment_object_id(attachment, Part.SAFE_TEXT),
    )
    return list(json.loads(document)["pages"])


def attachment_thumbnail_open(attachment: Attachment, *, tip_key: bytes) -> bytes:
    return decrypt_bytes(
        read_blob(attachment.thumbnail_blob),
        tip_key=attachment_key(attachment, tip_key=tip_key),
        object_id=attachment_object_id(attachment, Part.THUMBNAIL),
    )


# --- Sources come back (tipline/conversation/, docs/crypto.md) ----------------------------
#
# The conversation key is a random key of its own: the source holds it (wrapped
# to the source's key), the tip's readers reach it through the tip key. It opens
# the messages both ways and the files the source sent later, and nothing else:
# never the tip key, so never the editors' notes.


def conversation_key_seal(*, tip: Tip, tip_key: bytes, conversation_key: bytes) -> bytes:
    """The conversation key sealed under the tip key (``Conversation.key_for_readers``)."""
    object_id = tip_object_id(tip.key_id, Part.CONVERSATION_KEY)
    return encrypt_bytes(conversation_key, tip_key=tip_key, object_id=object_id)


def conversation_key_open(conversation: Conversation, *, tip_key: bytes) -> bytes:
    """The conversation key, for a reader holding the tip key."""
    tip_key_id = Tip.objects.values_list("key_id", flat=True).get(pk=conversation.tip_id)
    return decrypt_bytes(
        bytes(conversation.key_for_readers),
        tip_key=tip_key,
        object_id=tip_object_id(tip_key_id, Part.CONVERSATION_KEY),
    )


def message_object_id(message: Message, *, tip_key_id: uuid.UUID) -> str:
    return tip_object_id(tip_key_id, Part.MESSAGE, str(message.key_id))


def message_seal(
    message: Message, body: str, *, tip_key_id: uuid.UUID, conversation_key: bytes
) -> None:
    message.body_sealed = encrypt_bytes(
        body.encode("utf-8"),
        tip_key=conversation_key,
        object_id=message_object_id(message, tip_key_id=tip_key_id),
    )


def message_open(message: Message, *, tip_key_id: uuid.UUID, conversation_key: bytes) -> str:
    body = decrypt_bytes(
        bytes(message.body_sealed),
        tip_key=conversation_key,
        object_id=message_object_id(message, tip_key_id=tip_key_id),
    )
    return body.decode("utf-8", "replace")
