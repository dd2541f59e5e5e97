"""The installation's keys and the grants that wrap tip keys to them.

Services in the HackSoft style: ``<entity>_<action>``, keyword-only arguments.
The private halves never touch the database: the recovery key leaves the server
sealed under the admin's passphrase, and the pipeline key is a file readable by
the worker only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from tipline.audit import Action, Actor, audit_record
from tipline.crypto import (
    Argon2Params,
    CryptoError,
    PrivateKey,
    PublicKey,
    seal_private_key,
    unseal_private_key,
    unwrap_key,
    wrap_key,
)
from tipline.models import Grant, RecipientKey, Tip
from tipline.private_files import open_for_reading

TIP_KEY_PURPOSE = "tip-key"
# The recovery key is unsealed rarely and offline, and whoever steals its file
# can try passphrases at leisure: make each guess cost 256 MiB and ~0.5 s.
RECOVERY_KEY_ARGON2 = Argon2Params(memory_cost=256 * 1024, iterations=4, lanes=4)
RECOVERY_FILE_HEADER = "-----BEGIN TIPLINE RECOVERY KEY-----"
RECOVERY_FILE_FOOTER = "-----END TIPLINE RECOVERY KEY-----"


class KeyringError(Exception):
    """A key is missing or cannot be used; the message is safe to show an operator."""


# --- Recipients ------------------------------------------------------------------


def active_recipients() -> list[RecipientKey]:
    return list(RecipientKey.objects.filter(active=True).order_by("id"))


def active_recovery_key() -> RecipientKey | None:
    return RecipientKey.objects.filter(active=True, kind=RecipientKey.Kind.RECOVERY).first()


def active_editor_exists() -> bool:
    """Someone on staff can read a new tip: an active staff account with an active editor key.

    An account an admin invited has no key until it enrols, and a deactivated
    one has none active: neither counts.
    """
    return RecipientKey.objects.filter(
        active=True,
        kind=RecipientKey.Kind.EDITOR,
        user__is_active=True,
        user__is_staff=True,
    ).exists()


def tipline_is_open() -> bool:
    """A tip is accepted only when someone on staff can read it and it can be recovered.

    Both, not either (#16): a tip that only the offline recovery key opens is
    never shown in any inbox, and one that only editors open is lost with
    their passwords.
    """
    return active_recovery_key() is not None and active_editor_exists()


def recipient_key_register(
    *, kind: str, public_key: PublicKey, user=None, sealed_private_key: bytes | None = None
) -> RecipientKey:
    return RecipientKey.objects.create(
        kind=kind,
        user=user,
        public_key=public_key.to_bytes(),
        fingerprint=public_key.fingerprint(),
        sealed_private_key=sealed_private_key,
        created_on=timezone.now().date(),
    )


# --- Grants -------------------------------------------------------------------------


def tip_key_wrap(*, tip: Tip, tip_key: bytes, public_key: PublicKey) -> bytes:
    """``tip_key`` wrapped to ``public_key``, bound to this tip (a grant's ``wrapped_key``)."""
    return wrap_key(tip_key, public_key, purpose=TIP_KEY_PURPOSE, object_id=str(tip.key_id))


def tip_key_open(*, tip: Tip, wrapped_key: bytes | memoryview, private_key: PrivateKey) -> bytes:
    """The tip key out of a grant's ``wrapped_key`` (when the row is already at hand)."""
    return unwrap_key(
        bytes(wrapped_key), private_key, purpose=TIP_KEY_PURPOSE, object_id=str(tip.key_id)
    )


def grant_create(*, tip: Tip, recipient: RecipientKey, tip_key: bytes) -> Grant:
    public_key = PublicKey.from_bytes(bytes(recipient.public_key))
    wrapped = tip_key_wrap(tip=tip, tip_key=tip_key, public_key=public_key)
    return Grant.objects.create(tip=tip, recipient=recipient, wrapped_key=wrapped)


def grants_create_for_new_tip(*, tip: Tip, tip_key: bytes, include_pipeline: bool) -> None:
    """Wrap a new tip's key to every active editor, the recovery key and (if asked) the pipeline."""
    for recipient in _active_recipients_held():
        if recipient.kind != RecipientKey.Kind.PIPELINE or include_pipeline:
            grant_create(tip=tip, recipient=recipient, tip_key=tip_key)


def tip_key_unwrap(*, tip: Tip, recipient: RecipientKey, private_key: PrivateKey) -> bytes:
    """The tip key through ``recipient``'s grant; ``KeyringError`` if there is none."""
    grant = Grant.objects.filter(tip=tip, recipient=recipient).first()
    if grant is None:
        raise KeyringError("this key has no grant for the tip")
    return tip_key_open(tip=tip, wrapped_key=grant.wrapped_key, private_key=private_key)


# --- The recovery key ------------------------------------------------------------------


@dataclass(frozen=True)
class RecoveryKeyCreated:
    recipient: RecipientKey
    armored_private_key: str
    regranted_tips: int
    previous_fingerprint: str = ""  # empty when there was no recovery key before


def armor_recovery_key(sealed: bytes, fingerprint: str) -> str:
    body = base64.encodebytes(sealed).decode("ascii")
    return f"{RECOVERY_FILE_HEADER}\nFingerprint: {fingerprint}\n\n{body}{RECOVERY_FILE_FOOTER}\n"


def dearmor_recovery_key(text: str) -> bytes:
    lines = [line.strip() for line in text.strip().splitlines()]
    if not lines or lines[0] != RECOVERY_FILE_HEADER or lines[-1] != RECOVERY_FILE_FOOTER:
        raise KeyringError("this is not a tip line recovery key file")
    body = "".join(line for line in lines[1:-1] if line and ":" not in line)
    try:
        return base64.b64decode(body, validate=True)
    except ValueError:
        raise KeyringError("the recovery key file is damaged") from None


def recovery_private_key_load(*, path: Path, passphrase: str) -> PrivateKey:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise KeyringError("cannot read the recovery key file") from None
    try:
        return unseal_private_key(dearmor_recovery_key(text), passphrase)
    except CryptoError:
        raise KeyringError("wrong passphrase, or the recovery key file is damaged") from None


@transaction.atomic
def recovery_key_create(
    *,
    actor: Actor,
    passphrase: str,
    deliver: Callable[[str], None],
    rotate: bool = False,
    old_private_key: PrivateKey | None = None,
) -> RecoveryKeyCreated:
    """Create the installation's recovery key, on record; on rotation, re-grant every tip to it.

    ``deliver`` receives the sealed private key (armored text) inside the
    transaction: if it raises (the key file cannot be written), no key is
    registered whose private half would be lost. Re-granting needs the old
    private key: without it, tips that arrived before the rotation stay
    readable through the old recovery file and editors only.
    """
    created = _recovery_key_replace(
        passphrase=passphrase, rotate=rotate, old_private_key=old_private_key
    )
    deliver(created.armored_private_key)
    audit_record(
        actor=actor,
        action=Action.RECOVERY_KEY_ROTATED if rotate else Action.RECOVERY_KEY_CREATED,
        detail={
            "fingerprint": created.recipient.fingerprint,
            "previous": created.previous_fingerprint,
            "tips_granted": created.regranted_tips,
        },
    )
    return created


def _recovery_key_replace(
    *, passphrase: str, rotate: bool, old_private_key: PrivateKey | None
) -> RecoveryKeyCreated:
    current = (
        RecipientKey.objects.select_for_update()
        .filter(active=True, kind=RecipientKey.Kind.RECOVERY)
        .first()
    )
    if current is not None and not rotate:
        raise KeyringError("a recovery key already exists; pass --rotate to replace it")
    if current is not None:
        RecipientKey.objects.filter(pk=current.pk).update(active=False)
    private_key = PrivateKey.generate()
    public_key = private_key.public_key()
    recipient = recipient_key_register(kind=RecipientKey.Kind.RECOVERY, public_key=public_key)
    regranted = 0
    if current is not None and old_private_key is not None:
        regranted = _regrant_all(old=current, old_private_key=old_private_key, new=recipient)
    sealed = seal_private_key(private_key, passphrase, params=RECOVERY_KEY_ARGON2)
    armored = armor_recovery_key(sealed, recipient.fingerprint)
    previous = current.fingerprint if current is not None else ""
    return RecoveryKeyCreated(recipient, armored, regranted, previous)


def _regrant_all(*, old: RecipientKey, old_private_key: PrivateKey, new: RecipientKey) -> int:
    if old_private_key.public_key().to_bytes() != bytes(old.public_key):
        raise KeyringError("the old recovery key file does not belong to the current recovery key")
    count = 0
    for grant in Grant.objects.filter(recipient=old).select_related("tip").iterator():
        tip_key = tip_key_unwrap(tip=grant.tip, recipient=old, private_key=old_private_key)
        grant_create(tip=grant.tip, recipient=new, tip_key=tip_key)
        count += 1
    return count


@dataclass(frozen=True)
class RecoveryKeyRotated:
    recipient: RecipientKey
    armored_private_key: str
    previous_fingerprint: str  # empty when there was no recovery key before
    regranted_tips: int
    tips_not_granted: int  # tips the new key cannot read (the admin could not read them)


@transaction.atomic
def recovery_key_rotate(
    *,
    actor: Actor,
    passphrase: str,
    editor_recipient: RecipientKey,
    editor_private_key: PrivateKey,
) -> RecoveryKeyRotated:
    """A new recovery key, granted every tip the rotating editor can read; on record.

    For the staff interface, where the old key file is not at hand but the
    admin's own key is. The old recovery key becomes inactive and keeps its
    grants: for tips the admin cannot read it stays the only recovery path, and
    if the new file never reaches the admin the old one still opens the rest.
    The armored private key is returned, never stored.
    """
    if editor_private_key.public_key().to_bytes() != bytes(editor_recipient.public_key):
        raise KeyringError("this private key does not belong to the editor's key")
    created = _recovery_key_replace(passphrase=passphrase, rotate=True, old_private_key=None)
    new = created.recipient
    regranted = 0
    readable = Grant.objects.filter(recipient=editor_recipient, tip__purging=False)
    for grant in readable.select_related("tip").iterator(chunk_size=200):
        tip_key = tip_key_unwrap(
            tip=grant.tip, recipient=editor_recipient, private_key=editor_private_key
        )
        grant_create(tip=grant.tip, recipient=new, tip_key=tip_key)
        regranted += 1
    not_granted = Tip.objects.filter(purging=False).exclude(grants__recipient=new).count()
    rotated = RecoveryKeyRotated(
        new, created.armored_private_key, created.previous_fingerprint, regranted, not_granted
    )
    audit_record(
        actor=actor,
        action=Action.RECOVERY_KEY_ROTATED,
        detail={
            "fingerprint": new.fingerprint,
            "previous": rotated.previous_fingerprint,
            "tips_granted": regranted,
            "tips_not_granted": not_granted,
        },
    )
    return rotated


def recovery_key_coverage(recipient: RecipientKey | None) -> tuple[int, int]:
    """(tips ``recipient`` can read, tips stored): a gap means some tips it cannot recover."""
    total = Tip.objects.filter(purging=False).count()
    if recipient is None:
        return 0, total
    readable = Grant.objects.filter(recipient=recipient, tip__purging=False).count()
    return readable, total


# --- The pipeline key ------------------------------------------------------------------
#
# Its file, its rotation and the worker's use of it are in tipline/pipeline_key.py;
# here is what the grants of a new tip need, and the names callers import from here.


def pipeline_key_path() -> Path:
    return Path(settings.TIPLINE_PIPELINE_KEY_FILE)


@dataclass(frozen=True)
class PipelineKeyFile:
    """A private key as read from its file; ``digest`` tells whether the file changed since."""

    digest: bytes
    private_key: PrivateKey
    public_key: bytes


def pipeline_key_file_parse(data: bytes) -> PipelineKeyFile:
    try:
        private_key = PrivateKey.from_bytes(data)
    except CryptoError:
        raise KeyringError("the pipeline key file is damaged") from None
    public_key = private_key.public_key().to_bytes()
    return PipelineKeyFile(hashlib.sha256(data).digest(), private_key, public_key)


class _PipelineKeyReader:
    """The worker's private key, read from its file at each use, parsed again only when it changed.

    Reading the small file every time (rather than once per process) is what
    lets a long-lived worker process follow a rotation made by another one,
    and let go of the old key at its next task.
    """

    def __init__(self) -> None:
        self._loaded: PipelineKeyFile | None = None
        self._lock = threading.Lock()

    def __call__(self) -> PrivateKey:
        return self.load().private_key

    def load(self) -> PipelineKeyFile:
        try:
            # Without touching its access time: the batch of arrivals set it
            # back to its window, and a read at each task would date the task.
            with open_for_reading(pipeline_key_path()) as handle:
                data = handle.read()
        except OSError as exc:
            raise KeyringError(f"cannot read the pipeline key file: {exc.strerror}") from None
        with self._lock:
            known = self._loaded
        if known is not None and hmac.compare_digest(known.digest, hashlib.sha256(data).digest()):
            return known
        loaded = pipeline_key_file_parse(data)
        with self._lock:
            self._loaded = loaded
        return loaded

    def cache_clear(self) -> None:
        with self._lock:
            self._loaded = None


pipeline_private_key = _PipelineKeyReader()


def active_pipeline_key() -> RecipientKey | None:
    return RecipientKey.objects.filter(active=True, kind=RecipientKey.Kind.PIPELINE).first()


def _active_recipients_held() -> list[RecipientKey]:
    """The active keys, held (shared) until the new tip's transaction ends.

    A key that is replaced (an editor's password change, a pipeline key
    rotation) is locked for update before its grants move to its successor,
    so the replacement waits for this tip's grants to be committed and moves
    them too; or, if it came first, this finds the successor. Without the hold
    a tip could read the old key, the replacement commit and retire it, and
    the tip's grant be wrapped to a key that opens nowhere: an editor who no
    longer reads it, a file never cleaned. SQLite's writers never overlap
    (IMMEDIATE transactions): a plain read is enough there.
    """
    if connection.vendor != "postgresql":
        return active_recipients()
    table = connection.ops.quote_name(RecipientKey._meta.db_table)
    query = f"SELECT * FROM {table} WHERE active ORDER BY id FOR SHARE"  # noqa: S608 - our table
    # The first statement waits for a replacement under way; after it, that
    # statement sees the old row retired but not its successor (inserted after
    # the statement began). The second, a new statement, sees and holds it.
    list(RecipientKey.objects.raw(query))
    return list(RecipientKey.objects.raw(query))


def pipeline_key_ensure(*, actor: Actor) -> RecipientKey:
    """Make sure the pipeline key exists on disk and is registered (tipline/pipeline_key.py)."""
    # Imported here: that module builds on this one.
    from tipline.pipeline_key import pipeline_key_file_ensure

    return pipeline_key_file_ensure(actor=actor)
