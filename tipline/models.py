"""What the tip line stores. Nothing a source sent is stored in the clear here.

Rows hold only ciphertext (``*_sealed`` fields, under subkeys of the tip key),
wrapped keys, sizes and states. No row carries an exact time: a tip's arrival
is a coarse date, and arrival order comes from the primary key.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device

# Crockford-style alphabet without look-alikes (no 0/O, 1/I/L): references are
# read aloud and typed by hand in newsrooms.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_tip_reference() -> str:
    """An opaque public reference such as ``TQ7M-4KXP-9HRA`` (about 59 bits)."""
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(12))
    return f"{chars[0:4]}-{chars[4:8]}-{chars[8:12]}"


class RecipientKey(models.Model):
    """The public half of a key that tip keys are wrapped to (a grant's recipient)."""

    class Kind(models.TextChoices):
        EDITOR = "editor", _("Editor")
        RECOVERY = "recovery", _("Recovery")
        PIPELINE = "pipeline", _("Pipeline")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="recipient_keys",
    )
    public_key = models.BinaryField()
    fingerprint = models.CharField(max_length=64)
    # Editors only: the private key sealed under Argon2id over their password.
    sealed_private_key = models.BinaryField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_on = models.DateField()
    # Pipeline keys only: the hour the key was made, for its rotation every
    # TIPLINE_PIPELINE_KEY_HOURS (tipline/pipeline_key.py). Empty for a key made
    # before rotation existed, which is then due at once.
    created_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One active recovery key and one active pipeline key per installation.
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(active=True, kind__in=["recovery", "pipeline"]),
                name="one_active_installation_key_per_kind",
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(active=True, kind="editor"),
                name="one_active_key_per_editor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} key {self.fingerprint}"


class Tag(models.Model):
    """A newsroom label such as "drugs" or "Sinaloa". Names are staff-chosen, not tip content."""

    name = models.CharField(max_length=40, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tip(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        IN_REVIEW = "in_review", _("In review")
        VERIFIED = "verified", _("Verified")
        PUBLISHED = "published", _("Published")
        DISCARDED = "discarded", _("Discarded")

    # The identity bound into every object's encryption (tipline/sealed.py); never shown.
    key_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    reference = models.CharField(max_length=16, unique=True, default=new_tip_reference)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    # Coarsened (to the day by default): an exact time could be matched with
    # network logs to find the source.
    received_on = models.DateTimeField()
    # The note and the links, as one encrypted JSON document.
    content_sealed = models.BinaryField()
    file_count = models.PositiveSmallIntegerField(default=0)
    # Triage: who looks after the tip and how the newsroom labels it.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tips",
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="tips")
    # Retention: the period runs from the day the tip reached its status, so a
    # tip discarded today gets the whole "discarded" period from today.
    status_changed_on = models.DateField(default=timezone.localdate)
    # A legal hold stops the purge until it is lifted.
    legal_hold = models.BooleanField(default=False)
    # Set when the purge has begun (grants already gone): finished on the next
    # run whatever the policy or a hold says by then.
    purging = models.BooleanField(default=False)
    # Sent during a flood of submissions (tipline/intake/flood.py): kept, but
    # shown apart in the inbox, where a whole flood can be discarded at once.
    arrived_in_flood = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "-id"], name="tip_status_newest")]

    def __str__(self) -> str:
        return self.reference


class Attachment(models.Model):
    class State(models.TextChoices):
        RECEIVED = "received", _("Waiting to be cleaned")
        DONE = "done", _("Processed")
        FAILED = "failed", _("Processing failed")

    class SafeCopy(models.TextChoices):
        NONE = "", _("No safe copy")
        PENDING = "pending", _("Safe copy being made")
        DONE = "done", _("Safe copy ready")
        FAILED = "failed", _("Safe copy could not be made")

    tip = models.ForeignKey(Tip, on_delete=models.CASCADE, related_name="attachments")
    key_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    position = models.PositiveSmallIntegerField()
    # The name the source's device gave the file, encrypted: names identify.
    name_sealed = models.BinaryField()
    received_size = models.BigIntegerField()
    stored_size = models.BigIntegerField(null=True, blank=True)
    # Sniffed from the content by the worker; never the browser's claim.
    mime_type = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.RECEIVED)
    # Machine-readable summary of the sanitization: status only, no content.
    sanitize_status = models.CharField(max_length=32, blank=True)
    report_sealed = models.BinaryField(null=True, blank=True)
    raw_blob = models.CharField(max_length=255, blank=True)
    clean_blob = models.CharField(max_length=255, blank=True)
    # A small encrypted JPEG made by the worker from the cleaned picture.
    thumbnail_blob = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Sent later by the source through the conversation (tipline/conversation/):
    # its objects are under the conversation key, not the tip key (tipline/sealed.py).
    sent_later = models.BooleanField(default=False)
    # The safe copy of a document or picture (tipline/worker/safe_copy.py): its
    # pages as images rebuilt into a new PDF, made in a sandbox. Both blobs
    # encrypted; the page index and the OCR text sealed in one column.
    safe_copy = models.CharField(
        max_length=8, choices=SafeCopy.choices, blank=True, default=SafeCopy.NONE
    )
    safe_pdf_blob = models.CharField(max_length=255, blank=True)
    safe_pages_blob = models.CharField(max_length=255, blank=True)
    safe_text_sealed = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ["tip_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["tip", "position"], name="one_attachment_per_position")
        ]


# Every column of an attachment that names a blob: the purge deletes them all, and
# the sweep never takes a blob one of them names for an orphan.
ATTACHMENT_BLOB_FIELDS = (
    "raw_blob",
    "clean_blob",
    "thumbnail_blob",
    "safe_pdf_blob",
    "safe_pages_blob",
)


class PendingUpload(models.Model):
    """A file arriving over several connections (tipline/intake/resumable.py); nothing readable.

    The tip key is sealed under a secret that only the source's open page holds
    (sent with every request, never stored), so a seized database and spool
    open nothing; the file's name is sealed under that tip key. Claimed by the
    form's POST (the row then goes, in the tip's transaction) or swept as
    abandoned after ``TIPLINE_ABANDONED_UPLOAD_HOURS``.
    """

    # The capability in the upload's URL: random, never derived from anything.
    token = models.CharField(max_length=64, unique=True)
    # The ids the tip and the attachment will have (tipline/sealed.py object ids).
    tip_key_id = models.UUIDField()
    file_key_id = models.UUIDField(unique=True)
    tip_key_sealed = models.BinaryField()
    name_sealed = models.BinaryField()
    # A keyed hash of the form's identity: uploads belong to one form only.
    form_binding = models.CharField(max_length=64, db_index=True)
    length = models.BigIntegerField()
    # Plaintext bytes durably in the spool file: whole chunks only (or ``length``).
    offset = models.BigIntegerField(default=0)
    # The raw blob in the storage once the finished stream was handed over.
    blob = models.CharField(max_length=255, blank=True)
    # Coarse, like a tip's arrival: for the sweep only.
    created_on = models.DateField()


class Grant(models.Model):
    """The tip key wrapped to one recipient. Deleting every grant of a tip makes it unreadable."""

    tip = models.ForeignKey(Tip, on_delete=models.CASCADE, related_name="grants")
    # Indexed with the tip below: the inbox reads (recipient, tip) pairs from
    # the index alone, never the wide rows with their wrapped keys.
    recipient = models.ForeignKey(
        RecipientKey, on_delete=models.CASCADE, related_name="grants", db_index=False
    )
    wrapped_key = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tip", "recipient"], name="one_grant_per_recipient")
        ]
        indexes = [models.Index(fields=["recipient", "tip"], name="grant_recipient_tip")]


class GrantRevocation(models.Model):
    """An admin took an account's access to a tip away: nobody may give it back but an admin.

    It names the account, not its key: a password change makes a new key pair,
    and the revocation must outlive it (tipline/triage/grants.py checks it on
    every path that shares a tip). Lifting it deletes the row.
    """

    tip = models.ForeignKey(Tip, on_delete=models.CASCADE, related_name="revocations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The admin's username, for the tip page; the audit log has the full record.
    revoked_by = models.CharField(max_length=150)
    # Coarse, like every date here.
    revoked_on = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tip", "user"], name="one_revocation_per_account")
        ]


class EditorNote(models.Model):
    """An internal note on a tip, encrypted under the tip key like the tip itself."""

    tip = models.ForeignKey(Tip, on_delete=models.CASCADE, related_name="editor_notes")
    key_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    written_at = models.DateTimeField()
    body_sealed = models.BinaryField()

    class Meta:
        ordering = ["id"]


class StaffLoginState(models.Model):
    """Failed-login bookkeeping per account. No client address is ever kept."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_state"
    )
    failures = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)


# --- Second factors (tipline/accounts/second_factor.py) ----------------------------------
# django-otp's own TOTP and static-token models keep the secret and the codes in
# the clear; these keep the authenticator's secret sealed (AES-256-GCM) under a
# key that is not in the database, and only keyed hashes of the backup codes.


class AuthenticatorDevice(Device):
    """An authenticator app (TOTP, 30 s, 6 digits). Its secret is sealed, never stored plain."""

    secret_sealed = models.BinaryField()
    # Time steps the phone's clock is off by, learnt from accepted codes.
    drift = models.SmallIntegerField(default=0)
    # The time step of the last accepted code: a code is accepted once only.
    last_t = models.BigIntegerField(default=-1)


class BackupCodeDevice(Device):
    """An account's one-time backup codes (``BackupCode`` rows), as one django-otp device."""


class BackupCode(models.Model):
    """One unused backup code, as a keyed hash: the code itself is never stored."""

    device = models.ForeignKey(BackupCodeDevice, on_delete=models.CASCADE, related_name="codes")
    digest = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "digest"], name="one_row_per_backup_code")
        ]


class StaffEnrolment(models.Model):
    """An account that must set up its own second factor at its next sign-in.

    Made by an admin (a new account, or a second-factor reset): the admin hands
    over a one-time sign-in code, never an authenticator secret. A new account
    also chooses its own password then, which gives it its key pair.
    """

    class Reason(models.TextChoices):
        NEW_ACCOUNT = "new_account", _("First sign-in")
        SECOND_FACTOR_RESET = "second_factor_reset", _("Second factor reset")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_enrolment"
    )
    reason = models.CharField(max_length=24, choices=Reason.choices)
    # Keyed hash of the sign-in code; empty for accounts that sign in with
    # their current second factor (made by an admin before codes existed).
    code_digest = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)


class AuditEntry(models.Model):
    """One line of the append-only, hash-chained audit log. It never holds tip content.

    ``entry_hash`` is SHA-256 over the previous entry's hash and this entry's
    canonical fields, so changing, removing or reordering any entry breaks
    every hash after it (see tipline/audit.py).
    """

    at = models.DateTimeField()
    actor = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40)
    tip_reference = models.CharField(max_length=16, blank=True)
    detail = models.JSONField(default=dict)
    previous_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]


class RetentionPolicy(models.Model):
    """How long tips are kept, set by an admin. One row (``RetentionPolicy.current()``)."""

    default_days = models.PositiveIntegerField(default=365)
    # {"discarded": 30, "published": 730}: statuses not named use default_days.
    status_days = models.JSONField(default=dict, blank=True)

    @classmethod
    def current(cls) -> RetentionPolicy:
        policy, _ = cls.objects.get_or_create(pk=1, defaults={"status_days": {"discarded": 30}})
        return policy

    def days_for(self, status: str) -> int:
        return int(self.status_days.get(status, self.default_days))


# --- Sources come back (tipline/conversation/, docs/crypto.md "Sources come back") -------


class Conversation(models.Model):
    """A tip's way back to its source: the source's public key and the conversation key.

    Nothing here opens anything by itself. ``lookup`` is a keyed hash of the
    normalised receipt passphrase (the key is not in the database); the
    source's private key is derived from the passphrase at each visit and
    never stored. The conversation key (messages both ways, files sent later)
    is kept twice: wrapped to the source's key, and sealed under the tip key
    for the tip's readers. The source never holds the tip key.
    """

    tip = models.OneToOneField(Tip, on_delete=models.CASCADE, related_name="conversation")
    lookup = models.CharField(max_length=64, unique=True)
    salt = models.BinaryField()
    public_key = models.BinaryField()
    key_for_source = models.BinaryField()
    key_for_readers = models.BinaryField()
    # Closed by an editor: the source reads, but sends nothing more.
    closed = models.BooleanField(default=False)
    # The source wrote since an editor last opened the tip.
    unread = models.BooleanField(default=False)


class Message(models.Model):
    """One entry of a conversation, sealed under the conversation key. Dated to the day only."""

    class Author(models.TextChoices):
        SOURCE = "source", _("Source")
        EDITOR = "editor", _("Editor")

    tip = models.ForeignKey(Tip, on_delete=models.CASCADE, related_name="messages")
    key_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    author = models.CharField(max_length=8, choices=Author.choices)
    written_on = models.DateField()
    body_sealed = models.BinaryField()
    # Files the source sent with this message (Attachment.sent_later), for the pages.
    file_count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["id"]
