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

import hmac
import uuid
from collections.abc import Mapping, Sequence

from django.core.exceptions import SuspiciousOperation
from django.db import close_old_connections, transaction
from django.http.cookie import parse_cookie

from tipline.conversation.keys import SourceKeys
from tipline.conversation.services import LaterFile, source_files_send
from tipline.conversation.visit import visit_keys_of, visit_tag_of
from tipline.intake import resumable
from tipline.intake.upload import EncryptedUpload, EncryptingUploadHandler
from tipline.models import Attachment, PendingUpload


class LaterFilesUploadHandler(EncryptingUploadHandler):
    """Encrypts a visit's files under its conversation key, bound to the tip's key id."""

    def __init__(self, request=None, *, keys: SourceKeys) -> None:
        super().__init__(request)
        # Not a tip key: the object ids are the tip's, the key the conversation's
        # (tipline/sealed.py ``attachment_key`` resolves it for every reader).
        self.tip_key_id = keys.conversation.tip.key_id
        self.tip_key = keys.conversation_key

    def take_claimed(
        self, *, tip_key_id: uuid.UUID, tip_key: bytes, uploads: list[EncryptedUpload]
    ) -> None:
        """Files the page's script sent ahead (tipline/intake/tus.py): only under this
        visit's conversation key and the tip's key id, and only when the body brought none."""
        if self.uploads or self.created_blobs:
            raise SuspiciousOperation("files in the form and sent ahead: no page sends both")
        if tip_key_id != self.tip_key_id or not hmac.compare_digest(tip_key, self.tip_key):
            raise resumable.UploadClaimRefused("the uploads are not under this visit's key")
        self.uploads = list(uploads)


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


def later_upload_create(
    *, cookie_header: str, form_id: str, secret: bytes, name: str, length: int
) -> PendingUpload:
    """A resumable upload for the visit the cookies name (tus creation, in a source thread).

    Under the conversation key with the tip's key id, sealed under the page's
    secret as a new tip's are: the finished blob is then exactly what the
    streamed intake makes of a later file. ``UploadForbidden`` without a visit,
    on a closed conversation, or with a malformed page id.
    """
    cookies = parse_cookie(cookie_header)
    keys, tag = visit_keys_of(cookies), visit_tag_of(cookies)
    if keys is None or tag is None or keys.conversation.closed:
        raise resumable.UploadForbidden("no visit, or the conversation is closed")
    binding = resumable.visit_binding_of(visit_tag=tag, form_id=form_id)
    if binding is None:
        raise resumable.UploadForbidden("malformed page id")
    fixed_key = resumable.FixedKey(
        tip_key_id=keys.conversation.tip.key_id, key=keys.conversation_key
    )
    return resumable.pending_upload_create(
        secret=secret, form_binding=binding, name=name, length=length, fixed_key=fixed_key
    )


def later_uploads_claim(
    handler: LaterFilesUploadHandler,
    *,
    cookies: Mapping[str, str],
    tokens: Sequence[str],
    secret: str,
    form_id: str,
) -> None:
    """The uploads this visit's page sent ahead become the handler's (its key checked).

    ``SuspiciousOperation`` (``UploadClaimRefused`` mostly) if any is another
    visit's or a form's, unfinished, or not under this visit's key.
    """
    tag = visit_tag_of(cookies)
    binding = resumable.visit_binding_of(visit_tag=tag, form_id=form_id) if tag else None
    claimed = resumable.pending_uploads_claim(tokens=tokens, secret=secret, form_binding=binding)
    handler.take_claimed(
        tip_key_id=claimed.tip_key_id, tip_key=claimed.tip_key, uploads=claimed.uploads
    )


@transaction.atomic
def later_files_store(
    *, keys: SourceKeys, body: str, uploads: Sequence[EncryptedUpload]
) -> list[Attachment]:
    """The source's message with its files; their cleaning is queued once committed."""
    # The rows of files sent ahead go in this transaction: only one message may have them.
    resumable.pending_uploads_consume(uploads)
    files = [LaterFile(upload.name, upload.size, upload.key_id, upload.blob) for upload in uploads]
    attachments = source_files_send(keys=keys, body=body, files=files)
    for attachment in attachments:
        _enqueue_processing_on_commit(attachment.pk)
    return attachments


def _enqueue_processing_on_commit(attachment_id: int) -> None:
    from tipline.worker.tasks import process_attachment

    # robust: a broker hiccup must not turn a stored message into an error page.
    transaction.on_commit(lambda: process_attachment.delay(attachment_id), robust=True)
