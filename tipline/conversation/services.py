"""Writes of the conversation: a receipt for a new tip, a check-back, messages both ways.

Services in the HackSoft style (``<entity>_<action>``, keyword-only, one
transaction each); the staff's are audited (never the text). A source's
message is not: the audit log's exact time would date the source's visit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.db import connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from tipline.audit import Action, Actor, audit_record
from tipline.conversation.checks import checkback_work
from tipline.conversation.keys import (
    SourceKeys,
    conversation_key_unwrap,
    conversation_key_wrap,
    passphrase_lookup,
    source_key_new_salt,
    source_private_key_derive,
)
from tipline.conversation.passphrase import passphrase_generate, passphrase_normalise
from tipline.crypto import CryptoError, new_tip_key
from tipline.keyring import active_pipeline_key, grant_create
from tipline.models import Attachment, Conversation, Grant, Message, RecipientKey, Tip
from tipline.sealed import (
    attachment_name_seal,
    conversation_key_open,
    conversation_key_seal,
    message_open,
    message_seal,
)

MAX_MESSAGE_CHARS = 20_000


class ConversationClosed(Exception):
    """The newsroom closed this conversation: the source can read, not write."""


class ConversationGone(Exception):
    """The tip is being deleted (or was): nothing more to say or send."""


def _today() -> date:
    return timezone.localdate()


@transaction.atomic
def conversation_start(*, tip: Tip, tip_key: bytes, language: str) -> str:
    """Give a new tip its way back; return the receipt passphrase (shown once, never stored)."""
    passphrase = passphrase_generate(language=language)
    normalised = passphrase_normalise(passphrase)
    salt = source_key_new_salt()
    # Not in the check-backs' line: a tip is never refused for check-backs under way.
    public_key = source_private_key_derive(normalised, salt=salt).public_key()
    conversation_key = new_tip_key()
    Conversation.objects.create(
        tip=tip,
        lookup=passphrase_lookup(normalised),
        salt=salt,
        public_key=public_key.to_bytes(),
        key_for_source=conversation_key_wrap(
            tip=tip, conversation_key=conversation_key, public_key=public_key
        ),
        key_for_readers=conversation_key_seal(
            tip=tip, tip_key=tip_key, conversation_key=conversation_key
        ),
    )
    return passphrase


def conversation_open(*, typed: str) -> SourceKeys | None:
    """The conversation this passphrase opens, or None: in the same time either way.

    The Argon2 work runs whether or not a tip matched (with a throwaway salt
    when none did), in the check-backs' line (``CheckBacksBusy`` when full).
    """
    normalised = passphrase_normalise(typed)
    conversation = (
        Conversation.objects.select_related("tip")
        .filter(lookup=passphrase_lookup(normalised), tip__purging=False)
        .first()
        if normalised
        else None
    )
    with checkback_work():
        private_key = source_private_key_derive(
            normalised, salt=bytes(conversation.salt) if conversation is not None else None
        )
    if conversation is None:
        return None
    if private_key.public_key().to_bytes() != bytes(conversation.public_key):
        return None  # a lookup collision: not this source's key
    try:
        conversation_key = conversation_key_unwrap(
            conversation=conversation, tip_key_id=conversation.tip.key_id, private_key=private_key
        )
    except CryptoError:
        return None
    return SourceKeys(conversation, private_key, conversation_key)


@transaction.atomic
def source_message_send(*, keys: SourceKeys, body: str) -> Message:
    """The source's message; restarts the tip's retention clock."""
    return _source_message_write(keys=keys, body=body, file_count=0)[1]


def _source_message_write(*, keys: SourceKeys, body: str, file_count: int) -> tuple[Tip, Message]:
    # In the caller's transaction. The tip is locked: the purge, and the
    # pipeline's grant being dropped (tip_pipeline_finish), wait for this.
    tip = Tip.objects.select_for_update().filter(pk=keys.conversation.tip_id, purging=False).first()
    if tip is None:
        raise ConversationGone
    conversation = Conversation.objects.select_for_update().get(pk=keys.conversation.pk)
    if conversation.closed:
        raise ConversationClosed
    message = Message(
        tip=tip, author=Message.Author.SOURCE, written_on=_today(), file_count=file_count
    )
    message_seal(message, body, tip_key_id=tip.key_id, conversation_key=keys.conversation_key)
    message.save()
    conversation.unread = True
    conversation.save(update_fields=["unread"])
    # A source who wrote again is not purged right after: the clock restarts today.
    Tip.objects.filter(pk=tip.pk).update(status_changed_on=max(tip.status_changed_on, _today()))
    return tip, message


class LaterFilesRefused(Exception):
    """No pipeline key is registered: no worker could clean the files, so none is taken."""


@dataclass(frozen=True)
class LaterFile:
    """A file the source sent on the conversation page, already an encrypted raw blob
    under the conversation key (tipline/intake/later_files.py)."""

    name: str
    size: int
    key_id: uuid.UUID
    blob: str


@transaction.atomic
def source_files_send(
    *, keys: SourceKeys, body: str, files: Sequence[LaterFile]
) -> list[Attachment]:
    """The source's message with files: their rows, sealed under the conversation key,
    and a pipeline grant for the worker. The caller queues their cleaning on commit."""
    tip, _message = _source_message_write(keys=keys, body=body, file_count=len(files))
    pipeline_grant_ensure(tip=tip, conversation_key=keys.conversation_key)
    last = Attachment.objects.filter(tip=tip).aggregate(last=Max("position"))["last"]
    first = 0 if last is None else last + 1
    attachments = []
    for offset, later in enumerate(files):
        attachment = Attachment(
            tip=tip,
            key_id=later.key_id,
            position=first + offset,
            received_size=later.size,
            raw_blob=later.blob,
            sent_later=True,
        )
        attachment_name_seal(attachment, later.name, tip_key=keys.conversation_key)
        attachment.save()
        attachments.append(attachment)
    Tip.objects.filter(pk=tip.pk).update(file_count=F("file_count") + len(files))
    return attachments


def pipeline_grant_ensure(*, tip: Tip, conversation_key: bytes) -> None:
    """A pipeline grant for the worker to clean files sent later (the tip is locked).

    While the tip's own files are being cleaned its grant holds the tip key,
    which opens the later files too (through ``Conversation.key_for_readers``),
    and it stays: ``tip_pipeline_finish`` keeps it while any file is not done.
    Once it is gone, the new grant holds the conversation key, the only key the
    source has: the worker opens the later files and nothing else of the tip.
    A rotation moves it like any pipeline grant; the purge deletes it.
    """
    held = Grant.objects.filter(tip=tip, recipient__kind=RecipientKey.Kind.PIPELINE)
    if held.exists():
        return
    recipient = _pipeline_recipient_held()
    if recipient is None:
        raise LaterFilesRefused
    grant_create(tip=tip, recipient=recipient, tip_key=conversation_key)


def _pipeline_recipient_held() -> RecipientKey | None:
    """The active pipeline key, held (shared) until this transaction ends, as a new tip
    holds the keys it grants to (``keyring._active_recipients_held``): a rotation waits
    for this grant and moves it, or came first and this finds its successor."""
    if connection.vendor != "postgresql":
        return active_pipeline_key()
    table = connection.ops.quote_name(RecipientKey._meta.db_table)
    query = f"SELECT * FROM {table} WHERE active AND kind = %s ORDER BY id FOR SHARE"  # noqa: S608
    list(RecipientKey.objects.raw(query, [RecipientKey.Kind.PIPELINE.value]))
    rows = list(RecipientKey.objects.raw(query, [RecipientKey.Kind.PIPELINE.value]))
    return rows[0] if rows else None


@dataclass(frozen=True)
class Entry:
    """One message of the conversation as a page shows it."""

    pk: int
    author: str
    day: date
    body: str
    file_count: int


def conversation_entries(*, tip: Tip, conversation_key: bytes) -> list[Entry]:
    return [
        Entry(
            message.pk,
            message.author,
            message.written_on,
            message_open(message, tip_key_id=tip.key_id, conversation_key=conversation_key),
            message.file_count,
        )
        for message in Message.objects.filter(tip=tip).order_by("id")
    ]


def conversation_key_for_reader(*, tip: Tip, tip_key: bytes) -> bytes | None:
    """The conversation key for a reader of the tip; None for a tip without a conversation."""
    conversation = Conversation.objects.filter(tip=tip).first()
    if conversation is None:
        return None
    return conversation_key_open(conversation, tip_key=tip_key)


@transaction.atomic
def reply_send(*, actor: Actor, tip: Tip, tip_key: bytes, body: str) -> Message:
    """An editor's reply: sealed under the conversation key; audited, never its text."""
    conversation = Conversation.objects.select_for_update().get(tip=tip)
    if conversation.closed:
        raise ConversationClosed
    conversation_key = conversation_key_open(conversation, tip_key=tip_key)
    message = Message(tip=tip, author=Message.Author.EDITOR, written_on=_today())
    message_seal(message, body, tip_key_id=tip.key_id, conversation_key=conversation_key)
    message.save()
    audit_record(actor=actor, action=Action.REPLY_SENT, tip_reference=tip.reference)
    return message


@transaction.atomic
def reply_delete(*, actor: Actor, tip: Tip, message_id: int) -> bool:
    """Delete one of the editors' replies (never a source's message); audited."""
    deleted, _rows = Message.objects.filter(
        pk=message_id, tip=tip, author=Message.Author.EDITOR
    ).delete()
    if deleted:
        audit_record(actor=actor, action=Action.REPLY_DELETED, tip_reference=tip.reference)
    return bool(deleted)


@transaction.atomic
def conversation_close(*, actor: Actor, tip: Tip) -> None:
    """The source can still read, no longer write; audited."""
    Conversation.objects.filter(tip=tip).update(closed=True)
    audit_record(actor=actor, action=Action.CONVERSATION_CLOSED, tip_reference=tip.reference)


@transaction.atomic
def conversation_mark_read(*, tip: Tip) -> None:
    Conversation.objects.filter(tip=tip, unread=True).update(unread=False)
