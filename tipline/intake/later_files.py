"""Files a source sends later, on the conversation page: the same encrypting intake as the form.

The body is read through ``EncryptingUploadHandler`` like the form's (streamed
by tipline/intake/streaming.py under the server, or through Django's parser),
with one difference: the key. A new tip's files are under a fresh tip key; a
later file is under the conversation key, the one key the source's visit holds
(docs/crypto.md, "Sources come back"). So the visit is resolved from the cookie
before a byte of the body is read, and each chunk is encrypted under that key
as it arrives: nothing is adopted or re-encrypted afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import close_old_connections, transaction
from django.http.cookie import parse_cookie

from tipline.conversation.keys import SourceKeys
from tipline.conversation.services import LaterFile, source_files_send
from tipline.conversation.visit import visit_keys_of
from tipline.intake.upload import EncryptedUpload, EncryptingUploadHandler
from tipline.models import Attachment


class LaterFilesUploadHandler(EncryptingUploadHandler):
    """Encrypts a visit's files under its conversation key, bound to the tip's key id."""

    def __init__(self, request=None, *, keys: SourceKeys) -> None:
        super().__init__(request)
        # Not a tip key: the object ids are the tip's, the key the conversation's
        # (tipline/sealed.py ``attachment_key`` resolves it for every reader).
        self.tip_key_id = keys.conversation.tip.key_id
        self.tip_key = keys.conversation_key

    def take_claimed(self, **kwargs) -> None:
        raise NotImplementedError("files sent ahead are not taken on the conversation page")


def later_files_handler_for(cookie_header: str) -> LaterFilesUploadHandler | None:
    """The upload handler of the visit the request's cookies name, or None (no visit):
    called by the streaming intake, in a source thread, before the body is read."""
    # Outside a request: close this thread's connection if it is too old or
    # broken, as Django does around each request.
    close_old_connections()
    try:
        keys = visit_keys_of(parse_cookie(cookie_header))
        return LaterFilesUploadHandler(keys=keys) if keys is not None else None
    finally:
        close_old_connections()


@transaction.atomic
def later_files_store(
    *, keys: SourceKeys, body: str, uploads: Sequence[EncryptedUpload]
) -> list[Attachment]:
    """The source's message with its files; their cleaning is queued once committed."""
    files = [LaterFile(upload.name, upload.size, upload.key_id, upload.blob) for upload in uploads]
    attachments = source_files_send(keys=keys, body=body, files=files)
    for attachment in attachments:
        _enqueue_processing_on_commit(attachment.pk)
    return attachments


def _enqueue_processing_on_commit(attachment_id: int) -> None:
    from tipline.worker.tasks import process_attachment

    # robust: a broker hiccup must not turn a stored message into an error page.
    transaction.on_commit(lambda: process_attachment.delay(attachment_id), robust=True)
