"""Second factors at rest, and accounts that enrol their own (issue 13, items 3 and 7).

- New models: ``AuthenticatorDevice`` (the TOTP secret sealed under a key that
  is not in the database), ``BackupCodeDevice`` and ``BackupCode`` (keyed
  hashes only), ``StaffEnrolment``.
- Existing rows of django-otp's own models, which hold the TOTP secret and
  the backup codes in the clear, are copied into them (sealed, hashed) and
  deleted; on SQLite with ``secure_delete`` on, so the freed pages are zeroed.
  Read with plain SQL, and only if the tables exist: this migration does not
  depend on django-otp's, and a table not created yet has no rows to move.
- Accounts an admin made in the interface (an ``editor_created`` audit entry
  whose actor is an account) are marked to enrol again: the admin chose their
  first password and saw their authenticator secret, and their key pair was
  sealed under that password in every backup taken since. At their next
  sign-in, with their current second factor, they choose a new password (a
  new key pair, their grants moved to it) and enrol a new authenticator.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

_TOTP_TABLE = "otp_totp_totpdevice"
_STATIC_DEVICE_TABLE = "otp_static_staticdevice"
_STATIC_TOKEN_TABLE = "otp_static_statictoken"  # noqa: S105 - a table name
# What every device this project made used (django-otp's defaults and ours).
_TOTP_DEFAULTS = (30, 0, 6)  # step, t0, digits


def _authenticators_move(apps, cursor) -> None:
    from tipline.accounts.second_factor import totp_secret_seal

    device_model = apps.get_model("tipline", "AuthenticatorDevice")
    cursor.execute(
        f"SELECT user_id, name, confirmed, key, step, t0, digits, drift, last_t FROM {_TOTP_TABLE}"  # noqa: S608 - a constant
    )
    for user_id, name, confirmed, key, step, t0, digits, drift, last_t in cursor.fetchall():
        if (step, t0, digits) != _TOTP_DEFAULTS:
            continue  # none were made so; such a device could not be kept: re-enrol
        device_model.objects.create(
            user_id=user_id,
            name=name,
            confirmed=bool(confirmed),
            secret_sealed=totp_secret_seal(user_id=user_id, secret=bytes.fromhex(key)),
            drift=drift,
            last_t=last_t,
        )
    cursor.execute(f"DELETE FROM {_TOTP_TABLE}")  # noqa: S608 - a constant


def _backup_codes_move(apps, cursor) -> None:
    from tipline.accounts.second_factor import BACKUP_CODE_PURPOSE, code_digest

    device_model = apps.get_model("tipline", "BackupCodeDevice")
    code_model = apps.get_model("tipline", "BackupCode")
    cursor.execute(f"SELECT id, user_id, name, confirmed FROM {_STATIC_DEVICE_TABLE}")  # noqa: S608
    devices = {}
    for old_id, user_id, name, confirmed in cursor.fetchall():
        devices[old_id] = device_model.objects.create(
            user_id=user_id, name=name, confirmed=bool(confirmed)
        )
    cursor.execute(f"SELECT device_id, token FROM {_STATIC_TOKEN_TABLE}")  # noqa: S608
    for old_id, token in cursor.fetchall():
        device = devices[old_id]
        digest = code_digest(user_id=device.user_id, purpose=BACKUP_CODE_PURPOSE, code=token)
        code_model.objects.get_or_create(device=device, digest=digest)
    cursor.execute(f"DELETE FROM {_STATIC_TOKEN_TABLE}")  # noqa: S608 - a constant
    cursor.execute(f"DELETE FROM {_STATIC_DEVICE_TABLE}")  # noqa: S608 - a constant


def _interface_accounts_mark(apps) -> None:
    entry_model = apps.get_model("tipline", "AuditEntry")
    enrolment_model = apps.get_model("tipline", "StaffEnrolment")
    user_model = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    created = entry_model.objects.filter(action="editor_created").values_list("actor", "detail")
    # A username has no space; the fixed actors ("command line", ...) all do.
    names = {detail.get("editor") for actor, detail in created if actor and " " not in actor}
    for user in user_model.objects.filter(username__in=names, is_active=True, is_staff=True):
        enrolment_model.objects.get_or_create(
            user=user, defaults={"reason": "new_account", "code_digest": "", "expires_at": None}
        )


def second_factors_seal(apps, schema_editor) -> None:
    connection = schema_editor.connection
    tables = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA secure_delete = ON")
        if _TOTP_TABLE in tables:
            _authenticators_move(apps, cursor)
        if {_STATIC_DEVICE_TABLE, _STATIC_TOKEN_TABLE} <= tables:
            _backup_codes_move(apps, cursor)
    _interface_accounts_mark(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("tipline", "0005_pendingupload"),
    ]

    operations: list[migrations.operations.base.Operation] = [
        migrations.CreateModel(
            name="AuthenticatorDevice",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "name",
                    models.CharField(
                        help_text="The human-readable name of this device.", max_length=64
                    ),
                ),
                (
                    "confirmed",
                    models.BooleanField(default=True, help_text="Is this device ready for use?"),
                ),
                ("secret_sealed", models.BinaryField()),
                ("drift", models.SmallIntegerField(default=0)),
                ("last_t", models.BigIntegerField(default=-1)),
                (
                    "user",
                    models.ForeignKey(
                        help_text="The user that this device belongs to.",
                        on_delete=django.db.models.deletion.CASCADE,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "abstract": False,
            },
        ),
        migrations.CreateModel(
            name="BackupCodeDevice",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "name",
                    models.CharField(
                        help_text="The human-readable name of this device.", max_length=64
                    ),
                ),
                (
                    "confirmed",
                    models.BooleanField(default=True, help_text="Is this device ready for use?"),
                ),
                (
                    "user",
                    models.ForeignKey(
                        help_text="The user that this device belongs to.",
                        on_delete=django.db.models.deletion.CASCADE,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "abstract": False,
            },
        ),
        migrations.CreateModel(
            name="StaffEnrolment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "reason",
                    models.CharField(
                        choices=[
                            ("new_account", "First sign-in"),
                            ("second_factor_reset", "Second factor reset"),
                        ],
                        max_length=24,
                    ),
                ),
                ("code_digest", models.CharField(blank=True, max_length=64)),
                ("expires_at", models.DateTimeField(blank=True, null=True)),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="staff_enrolment",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="BackupCode",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("digest", models.CharField(max_length=64)),
                (
                    "device",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="codes",
                        to="tipline.backupcodedevice",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("device", "digest"), name="one_row_per_backup_code"
                    )
                ],
            },
        ),
        # Not reversible in substance: the secrets were sealed and the codes
        # hashed; going back leaves the accounts without a second factor
        # (they cannot sign in until an admin's reset), never with plaintext.
        migrations.RunPython(second_factors_seal, migrations.RunPython.noop),
    ]
