"""Second-factor secrets at rest: the database holds no authenticator secret and no code.

Authenticator secrets are sealed (AES-256-GCM) under a key derived from
``TIPLINE_SECOND_FACTOR_KEY``, which is in the data dir (``second_factor_key``,
0600) or the environment, never in the database; backup and sign-in codes are
kept as keyed hashes. The database is read here the way a seized copy would
be: every row of every table, and the SQLite file's bytes.
"""

from __future__ import annotations

import io
import re
import stat
from base64 import b32decode, b32encode
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.accounts.concurrency import sign_in_all_at_once
from tests.accounts.enrol_support import sign_in, sign_in_code_from
from tests.triage.helpers import EDITOR_PASSWORD, english_client, staff_account_create, totp_code
from tipline.accounts.signin import staff_authenticate
from tipline.audit import COMMAND_LINE_ACTOR, Action, audit_record
from tipline.models import AuthenticatorDevice, StaffEnrolment

pytestmark = pytest.mark.django_db


def secret_of(otpauth_uri: str) -> bytes:
    return b32decode(parse_qs(urlsplit(otpauth_uri).query)["secret"][0])


def spellings(secret: bytes) -> list[bytes]:
    """The ways a secret could sit in a database: raw, hex (either case), base32."""
    return [secret, secret.hex().encode(), secret.hex().upper().encode(), b32encode(secret)]


def every_row() -> bytes:
    """Every value of every table, as bytes: what a database dump holds."""
    out = io.BytesIO()
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the schema
            for row in cursor.fetchall():
                for value in row:
                    raw = bytes(value) if isinstance(value, bytes | memoryview) else None
                    out.write(raw if raw is not None else str(value).encode())
                    out.write(b"\x00")
    return out.getvalue()


def database_file() -> bytes:
    """The SQLite file and its write-ahead log, as they lie on the disk."""
    name = connection.settings_dict["NAME"]
    connection.close()  # so the WAL is what the disk has
    raw = b""
    for path in (Path(name), Path(f"{name}-wal")):
        if path.exists():
            raw += path.read_bytes()
    return raw


def test_no_authenticator_secret_and_no_backup_code_is_in_the_database(settings) -> None:
    ana = staff_account_create("ana")
    secret = secret_of(ana.otpauth_uri)
    assert len(secret) == 20
    rows = every_row()
    for spelling in spellings(secret):
        assert spelling not in rows
    for code in ana.backup_codes:
        assert code.encode() not in rows
    # Nor is the key that seals them.
    assert settings.TIPLINE_SECOND_FACTOR_KEY.encode() not in rows
    # They still work.
    assert sign_in("ana", EDITOR_PASSWORD, ana.current_code())[1].status_code == 302
    assert sign_in("ana", EDITOR_PASSWORD, ana.backup_codes[0])[1].status_code == 302


@pytest.mark.django_db(transaction=True)
def test_the_database_file_holds_no_second_factor_either(settings) -> None:
    ana = staff_account_create("ana")
    raw = database_file()
    for spelling in spellings(secret_of(ana.otpauth_uri)):
        assert spelling not in raw
    for code in ana.backup_codes:
        assert code.encode() not in raw
    assert settings.TIPLINE_SECOND_FACTOR_KEY.encode() not in raw


def test_sign_in_codes_and_enrolled_secrets_are_not_in_the_database(admin_client) -> None:
    response = admin_client.post(
        "/staff/editors/new/",
        {
            "username": "cleo",
            "password": "the admin's password",
            "password_again": "the admin's password",
        },
    )
    code = sign_in_code_from(response)
    rows = every_row()
    assert code.encode() not in rows and code.replace("-", "").encode() not in rows
    browser, _ = sign_in("cleo", "the admin's password", code)
    body = browser.get("/staff/first-sign-in/").content.decode()
    uri = re.search(r"otpauth://totp/[^<\s\"]+", body).group(0).replace("&amp;", "&")
    for spelling in spellings(secret_of(uri)):
        assert spelling not in every_row()  # not even while it is being enrolled


def test_a_sealed_secret_copied_to_another_account_opens_nothing() -> None:
    ana, bea = staff_account_create("ana"), staff_account_create("bea")
    stolen = AuthenticatorDevice.objects.get(user=ana.user).secret_sealed
    AuthenticatorDevice.objects.filter(user=bea.user).update(secret_sealed=stolen)
    # ana's codes do not work for bea: the seal is bound to the account.
    assert sign_in("bea", EDITOR_PASSWORD, ana.current_code())[1].status_code == 400


def test_another_second_factor_key_opens_nothing_and_none_stops_sign_in(settings) -> None:
    ana = staff_account_create("ana")
    settings.TIPLINE_SECOND_FACTOR_KEY = "another second-factor key of enough length, 42"
    assert sign_in("ana", EDITOR_PASSWORD, ana.current_code())[1].status_code == 400
    assert sign_in("ana", EDITOR_PASSWORD, ana.backup_codes[0])[1].status_code == 400
    settings.TIPLINE_SECOND_FACTOR_KEY = ""
    with pytest.raises(ImproperlyConfigured):
        staff_authenticate(username="ana", password=EDITOR_PASSWORD, code=ana.current_code())


def test_create_editors_uri_and_codes_still_sign_in(monkeypatch) -> None:
    monkeypatch.setenv("TIPLINE_PASSWORD", EDITOR_PASSWORD)
    out = io.StringIO()
    call_command("create_editor", "bea", stdout=out)
    uri = re.search(r"otpauth://totp/\S+", out.getvalue()).group(0)
    assert (
        english_client()
        .post(
            "/staff/login/",
            {"username": "bea", "password": EDITOR_PASSWORD, "code": totp_code(uri)},
        )
        .status_code
        == 302
    )


@pytest.mark.django_db(transaction=True)
def test_a_backup_code_sent_twice_at_once_signs_in_once() -> None:
    ana = staff_account_create("ana")
    statuses = sign_in_all_at_once([ana.login_data(ana.backup_codes[0])] * 2)
    assert sorted(statuses) == [302, 400]


# --- The key file ----------------------------------------------------------------------------


def test_the_bootstrap_makes_a_private_second_factor_key(tmp_path: Path, monkeypatch) -> None:
    from config.bootstrap import SECOND_FACTOR_KEY_FILE_NAME, prepare_data_dir

    for name in ("TIPLINE_SECOND_FACTOR_KEY", "TIPLINE_SECOND_FACTOR_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TIPLINE_DATA_DIR", str(tmp_path / "data"))
    prepare_data_dir()
    key_file = tmp_path / "data" / SECOND_FACTOR_KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text()
    assert len(key.strip()) >= 43
    prepare_data_dir()  # every process runs it: the second time changes nothing
    assert key_file.read_text() == key

    monkeypatch.setenv("TIPLINE_DATA_DIR", str(tmp_path / "other"))
    monkeypatch.setenv("TIPLINE_SECOND_FACTOR_KEY", "k" * 43)
    prepare_data_dir()
    assert not (tmp_path / "other" / SECOND_FACTOR_KEY_FILE_NAME).exists()


# --- Migration 0006 --------------------------------------------------------------------------


def test_the_migration_seals_old_secrets_hashes_old_codes_and_marks_interface_accounts() -> None:
    from importlib import import_module

    migration = import_module("tipline.migrations.0006_accounts")
    user_model = get_user_model()
    ana = user_model.objects.create_user("ana", password=EDITOR_PASSWORD, is_staff=True)
    cli = user_model.objects.create_user("cli", password=EDITOR_PASSWORD, is_staff=True)
    # As django-otp stored them before: the secret in hex, the codes as typed.
    totp = TOTPDevice.objects.create(user=ana, name="authenticator", confirmed=True)
    secret = bytes.fromhex(totp.key)
    static = StaticDevice.objects.create(user=ana, name="backup codes", confirmed=True)
    StaticToken.objects.create(device=static, token="abcdefghjk")
    audit_record(actor="root", action=Action.EDITOR_CREATED, detail={"editor": "ana"})
    audit_record(actor=COMMAND_LINE_ACTOR, action=Action.EDITOR_CREATED, detail={"editor": "cli"})

    migration.second_factors_seal(apps, SimpleNamespace(connection=connection))

    assert not TOTPDevice.objects.exists() and not StaticToken.objects.exists()
    assert not StaticDevice.objects.exists()
    rows = every_row()
    for spelling in [*spellings(secret), b"abcdefghjk"]:
        assert spelling not in rows
    # The same authenticator and code work through the new models.
    from tipline.accounts.second_factor import second_factor_match

    code = f"{TOTP(secret).token():06d}"
    assert isinstance(second_factor_match(user=ana, code=code), AuthenticatorDevice)
    assert second_factor_match(user=ana, code="abcdefghjk") is not None
    assert second_factor_match(user=ana, code="abcdefghjk") is None  # spent
    # Made by an admin in the interface: must enrol again; made on the command line: not.
    assert StaffEnrolment.objects.get(user=ana).code_digest == ""
    assert not StaffEnrolment.objects.filter(user=cli).exists()
