"""The pipeline key: the worker's key, its file, and its short life.

One pipeline key per installation. Its private half is one 0600 file where the
worker runs (``TIPLINE_PIPELINE_KEY_FILE``); a new tip's key is wrapped to its
public half until the tip's files are cleaned (tipline/keyring.py). It rotates
every ``TIPLINE_PIPELINE_KEY_HOURS`` and the old private half is destroyed, so a
seized worker opens no tip whose cleaning ended before the last rotation, not
even from a deleted grant found in the database's free pages (docs/crypto.md,
"The pipeline key's short life"). Beside the key file: ``<file>.next``, the new
key while a rotation installs it, and ``<file>.lock``, held by whoever writes,
installs or destroys a key file.
"""

from __future__ import annotations

import fcntl
import hmac
import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from tipline.audit import Action, Actor, audit_record
from tipline.crypto import CryptoError, PrivateKey, PublicKey
from tipline.keyring import (
    KeyringError,
    PipelineKeyFile,
    active_pipeline_key,
    grant_create,
    pipeline_key_file_parse,
    pipeline_key_path,
    pipeline_private_key,
    tip_key_open,
)
from tipline.models import Grant, RecipientKey, Tip
from tipline.private_files import (
    folder_fsync,
    open_for_reading,
    private_dir_ensure,
    private_file_create,
)

logger = logging.getLogger(__name__)

STAGED_KEY_SUFFIX = ".next"
KEY_LOCK_SUFFIX = ".lock"
# A tip's pipeline grant is read again when a rotation moved it to the new key
# between the read and the unwrap: two reads always suffice, the third is margin.
_PIPELINE_GRANT_READS = 3


def _staged_key_path(path: Path) -> Path:
    return path.with_name(path.name + STAGED_KEY_SUFFIX)


def pipeline_key_age(recipient: RecipientKey, *, now: datetime | None = None) -> timedelta | None:
    """How long ``recipient`` has been the pipeline key (from the hour it was made); ``None``
    for a key made before rotation existed, which kept no such hour."""
    if recipient.created_at is None:
        return None
    return (now or timezone.now()) - recipient.created_at


def pipeline_key_due(recipient: RecipientKey, *, now: datetime | None = None) -> bool:
    age = pipeline_key_age(recipient, now=now)
    return age is None or age >= timedelta(hours=settings.TIPLINE_PIPELINE_KEY_HOURS)


def _pipeline_recipient_register(public_key: PublicKey) -> RecipientKey:
    return RecipientKey.objects.create(
        kind=RecipientKey.Kind.PIPELINE,
        public_key=public_key.to_bytes(),
        fingerprint=public_key.fingerprint(),
        created_on=timezone.now().date(),
        # To the hour, like every time the tip line keeps: enough for a schedule in hours.
        created_at=timezone.now().replace(minute=0, second=0, microsecond=0),
    )


# --- The pipeline key: the worker's side ------------------------------------------------------


def pipeline_tip_key_open(*, tip: Tip) -> bytes:
    """The tip key through the tip's pipeline grant, for the worker; ``KeyringError`` to retry.

    The grant and the key it is wrapped to are read together, and the private
    half is the one this host holds for *that* key: the key file or, while a
    rotation installs the new key, the staged file. A rotation that moves the
    grant between the read and the unwrap (and destroys the old key) only sends
    us back to read the grant again, wrapped to the new key by then. A task that
    already holds the tip key is not affected at all: the tip key never changes.
    """
    for _read in range(_PIPELINE_GRANT_READS):
        grant = (
            Grant.objects.select_related("recipient")
            .filter(tip=tip, recipient__kind=RecipientKey.Kind.PIPELINE)
            .first()
        )
        if grant is None:
            raise KeyringError("the tip has no pipeline grant")
        private_key = _pipeline_private_key_of(bytes(grant.recipient.public_key))
        if private_key is not None:
            return tip_key_open(tip=tip, wrapped_key=grant.wrapped_key, private_key=private_key)
    pipeline_private_key.load()  # a missing or unreadable key file says so
    raise KeyringError("the pipeline key file here does not hold the key of the tip's grant")


def _pipeline_private_key_of(public_key: bytes) -> PrivateKey | None:
    try:
        current: PipelineKeyFile | None = pipeline_private_key.load()
    except KeyringError:
        current = None
    if current is not None and hmac.compare_digest(current.public_key, public_key):
        return current.private_key
    staged = _staged_key_load(pipeline_key_path())
    if staged is not None and hmac.compare_digest(staged.public_key, public_key):
        return staged.private_key
    return None


def _staged_key_load(path: Path) -> PipelineKeyFile | None:
    try:
        with open_for_reading(_staged_key_path(path)) as handle:
            return pipeline_key_file_parse(handle.read())
    except (OSError, KeyringError):
        return None  # none, or still being written (nothing is wrapped to it yet then)


# --- The pipeline key: creation and rotation (where the key file is) ---------------------------


def pipeline_key_file_ensure(*, actor: Actor) -> RecipientKey:
    """Make sure the pipeline key exists on disk and its public half is registered.

    Run where the worker runs (``make run`` does it for the embedded default).
    A key file that does not match the registered key replaces it: the old
    pipeline grants are useless anyway once the worker cannot open them. A
    rotation cut off before it installed its new key is finished first.
    """
    current = active_pipeline_key()
    if current is not None and _key_file_holds(current):
        return current
    with _pipeline_key_lock():
        _staged_key_settle()
        return _pipeline_key_register_file(actor=actor)


def _key_file_holds(recipient: RecipientKey) -> bool:
    try:
        loaded = pipeline_private_key.load()
    except KeyringError:
        return False
    return hmac.compare_digest(loaded.public_key, bytes(recipient.public_key))


@transaction.atomic
def _pipeline_key_register_file(*, actor: Actor) -> RecipientKey:
    path = pipeline_key_path()
    if not path.exists():
        _key_file_write(path, PrivateKey.generate().to_bytes())
    public_key = pipeline_private_key().public_key()
    current = active_pipeline_key()
    if current is not None and hmac.compare_digest(
        bytes(current.public_key), public_key.to_bytes()
    ):
        return current
    retired = RecipientKey.objects.filter(
        kind=RecipientKey.Kind.PIPELINE, active=False, fingerprint=public_key.fingerprint()
    )
    if retired.exists():
        # A stale copy, or a backup put back: its grants were deleted, not
        # erased, and it must not open them again.
        raise KeyringError(
            "the pipeline key file holds a key a rotation retired: delete the file, "
            "then run init_pipeline_key to make a new one"
        )
    RecipientKey.objects.filter(active=True, kind=RecipientKey.Kind.PIPELINE).update(active=False)
    registered = _pipeline_recipient_register(public_key)
    audit_record(
        actor=actor,
        action=Action.PIPELINE_KEY_REGISTERED,
        detail={
            "fingerprint": registered.fingerprint,
            "previous": current.fingerprint if current is not None else "",
        },
    )
    return registered


@dataclass(frozen=True)
class PipelineKeyRotated:
    recipient: RecipientKey
    previous_fingerprint: str
    grants_moved: int  # tips still being processed, granted to the new key now
    grants_unreadable: int  # damaged grants the old key could not open: dropped


def pipeline_key_rotate(*, actor: Actor) -> PipelineKeyRotated:
    """A new pipeline key now, the old private half destroyed (``manage.py rotate_pipeline_key``).

    Runs where the key file is. ``KeyringError`` when there is no pipeline key,
    or this host's key file is not the registered one: then nothing changes.
    """
    with _pipeline_key_lock():
        _staged_key_settle()
        rotated = _pipeline_key_replace(actor=actor)
    deleted_grants_scrub()
    return rotated


def pipeline_key_rotate_if_due(
    *, actor: Actor, now: datetime | None = None
) -> PipelineKeyRotated | None:
    """The schedule's check (hourly on a worker, or the embedded runner): rotate when it is time.

    Nothing while no pipeline key is registered (no file ever needed cleaning).
    Checked under the key files' lock, so processes checking at once rotate once.
    """
    with _pipeline_key_lock():
        _staged_key_settle()
        current = active_pipeline_key()
        if current is None or not pipeline_key_due(current, now=now):
            return None
        rotated = _pipeline_key_replace(actor=actor)
    deleted_grants_scrub()
    return rotated


def _pipeline_key_replace(*, actor: Actor) -> PipelineKeyRotated:
    """The rotation, under the key files' lock, in three steps.

    1. The new private key is written to the staged file, and reaches the disk
       before anything is wrapped to it.
    2. One transaction: the new public key becomes the active pipeline key, the
       grants of tips still being processed are re-wrapped to it (opened with
       the old key) and the old ones deleted, the old key is deactivated, on record.
    3. The staged key is written over the key file, in place, and the staged
       file destroyed: no file holds the old private key any more.

    A crash between 2 and 3 leaves the new key staged: the worker finds it
    there, and whatever next takes the lock finishes step 3. A failed step 2
    destroys the staged key, to which nothing was wrapped.
    """
    path = pipeline_key_path()
    if path.is_symlink():
        # Step 3 overwrites the file in place and never writes through a link.
        raise KeyringError("TIPLINE_PIPELINE_KEY_FILE must name the key file itself, not a link")
    old = pipeline_private_key.load()
    new_private_key = PrivateKey.generate()
    _key_file_write(_staged_key_path(path), new_private_key.to_bytes())
    try:
        rotated = _pipeline_key_rows_rotate(
            actor=actor, old=old, new_public_key=new_private_key.public_key()
        )
    finally:
        _staged_key_settle()
        pipeline_private_key.cache_clear()
    logger.info(
        "pipeline key rotated; grants of tips still being processed moved: %d", rotated.grants_moved
    )
    return rotated


@transaction.atomic
def _pipeline_key_rows_rotate(
    *, actor: Actor, old: PipelineKeyFile, new_public_key: PublicKey
) -> PipelineKeyRotated:
    # FOR UPDATE on the active key's row: a tip being created holds it shared
    # while it grants to it (``keyring._active_recipients_held``), so this waits for
    # those grants to be committed, moves them too, and no grant to the old key
    # can come after.
    current = (
        RecipientKey.objects.select_for_update()
        .filter(active=True, kind=RecipientKey.Kind.PIPELINE)
        .first()
    )
    if current is None:
        raise KeyringError("there is no pipeline key to rotate: run init_pipeline_key")
    if not hmac.compare_digest(bytes(current.public_key), old.public_key):
        raise KeyringError("the pipeline key file here is not the registered pipeline key")
    RecipientKey.objects.filter(pk=current.pk).update(active=False)
    new = _pipeline_recipient_register(new_public_key)
    moved, unreadable = _pipeline_grants_move(old=current, old_private_key=old.private_key, new=new)
    detail = {
        "fingerprint": new.fingerprint,
        "previous": current.fingerprint,
        "grants_moved": moved,
    }
    if unreadable:
        detail["grants_unreadable"] = unreadable
    audit_record(actor=actor, action=Action.PIPELINE_KEY_ROTATED, detail=detail)
    return PipelineKeyRotated(new, current.fingerprint, moved, unreadable)


def _pipeline_grants_move(
    *, old: RecipientKey, old_private_key: PrivateKey, new: RecipientKey
) -> tuple[int, int]:
    """Re-wrap the old key's grants (tips still being processed) to the new key, delete them.

    Their tips are locked first, newest first as the purge locks them: a tip
    whose processing ends meanwhile (``tip_pipeline_finish`` holds the tip
    while it drops the grant) ends either before, and has no grant left here,
    or after, and drops the new grant. A grant the old key cannot open (damaged
    at rest) is dropped with the others: it could never be used, and must not
    keep the old key alive.
    """
    locked = Tip.objects.select_for_update(of=("self",)).filter(grants__recipient=old)
    list(locked.order_by("-pk").values_list("pk", flat=True))
    moved = unreadable = 0
    for grant in list(Grant.objects.filter(recipient=old).select_related("tip")):
        try:
            tip_key = tip_key_open(
                tip=grant.tip, wrapped_key=grant.wrapped_key, private_key=old_private_key
            )
        except CryptoError:
            unreadable += 1
            continue
        grant_create(tip=grant.tip, recipient=new, tip_key=tip_key)
        moved += 1
    Grant.objects.filter(recipient=old).delete()
    return moved, unreadable


def _staged_key_settle() -> None:
    """Finish a rotation's last step, or undo a failed one (under the key files' lock).

    A staged key that is the registered pipeline key is written over the key
    file; any other was never wrapped to (a rotation stopped before its
    commit). Either way the staged file is then destroyed.
    """
    path = pipeline_key_path()
    staged_path = _staged_key_path(path)
    if not os.path.lexists(staged_path):
        return
    staged = _staged_key_load(path)
    active = active_pipeline_key()
    if (
        staged is not None
        and active is not None
        and hmac.compare_digest(staged.public_key, bytes(active.public_key))
    ):
        _key_file_overwrite(path, staged.private_key.to_bytes())
    _key_file_destroy(staged_path)


@contextmanager
def _pipeline_key_lock() -> Iterator[None]:
    """Held while a key file is written, installed or destroyed: one rotation at a time."""
    path = pipeline_key_path()
    private_dir_ensure(path.parent)
    lock_path = path.with_name(path.name + KEY_LOCK_SUFFIX)
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    descriptor = os.open(lock_path, flags, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # released by the kernel if we die
        yield
    finally:
        os.close(descriptor)


def _key_file_write(path: Path, data: bytes) -> None:
    """A new 0600 key file whose bytes are on the disk when this returns.

    A key that grants are about to be wrapped to must survive a power cut.
    """
    private_dir_ensure(path.parent)
    descriptor = private_file_create(path)
    try:
        _write_all(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    folder_fsync(path.parent)


def _key_file_overwrite(path: Path, data: bytes) -> None:
    """Write ``data`` over the key file's bytes, in place, and wait for the disk.

    In place rather than a new file renamed over it: the old key's bytes are
    overwritten where they lie (on file systems that write in place; see
    docs/crypto.md), and the file keeps the identity that a service's
    ``InaccessiblePaths=`` hid when it started.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        descriptor = private_file_create(path)  # removed by hand: the staged key becomes it
    try:
        os.fchmod(descriptor, 0o600)
        _write_all(descriptor, data)
        os.ftruncate(descriptor, len(data))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    folder_fsync(path.parent)


def _key_file_destroy(path: Path) -> None:
    """Overwrite a key file with random bytes, wait for the disk, then unlink it."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        _write_all(descriptor, secrets.token_bytes(os.fstat(descriptor).st_size))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.unlink(path)
    folder_fsync(path.parent)


def _write_all(descriptor: int, data: bytes) -> None:
    written = 0
    while written < len(data):
        written += os.pwrite(descriptor, data[written:], written)


def deleted_grants_scrub() -> None:
    """After grants were deleted: make the database's own files let go of them.

    SQLite overwrites deleted rows (``secure_delete`` is on for every
    connection: config/settings.py); the checkpoint then empties the
    write-ahead log of the older page images that still hold them. PostgreSQL
    keeps deleted rows until a VACUUM, which takes them out of the table's
    pages (their bytes may stay in a page's free space, and in the write-ahead
    log, until reused: docs/crypto.md). Never inside a transaction: VACUUM
    cannot run in one, and rows deleted there are not committed yet.
    """
    if connection.in_atomic_block:
        return
    try:
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                # Busy readers only make it partial; the next one catches up.
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            elif connection.vendor == "postgresql":
                cursor.execute(f"VACUUM {connection.ops.quote_name(Grant._meta.db_table)}")
    except DatabaseError as exc:  # what deleted the grants succeeded; say why this did not
        logger.warning("deleted grants were not scrubbed (%s)", type(exc).__name__)
