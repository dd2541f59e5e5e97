"""manage.py create_editor: password input, refusals, what it prints, and that the account works."""

from __future__ import annotations

import io
import re
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from tipline.accounts.services import BACKUP_CODE_COUNT
from tipline.accounts.signin import private_key_unseal
from tipline.audit import Action, audit_verify
from tipline.crypto import PrivateKey
from tipline.models import AuditEntry, RecipientKey

pytestmark = pytest.mark.django_db

PASSWORD = "a fine long password for bea"
CODE_LINE = re.compile(r"^  ([2-9a-z]{10})$", re.MULTILINE)


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def no_env_password(monkeypatch):
    monkeypatch.delenv("TIPLINE_PASSWORD", raising=False)


@pytest.fixture
def env_password(monkeypatch):
    monkeypatch.setenv("TIPLINE_PASSWORD", PASSWORD)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("create_editor", *args, stdout=out)
    return out.getvalue()


def backup_codes(output: str) -> list[str]:
    return CODE_LINE.findall(output)


def test_env_password_creates_an_editor_and_prints_uri_and_codes(env_password) -> None:
    output = run("bea")
    user = get_user_model().objects.get(username="bea")
    assert user.is_staff and user.is_active and not user.is_superuser
    assert "otpauth://totp/" in output
    uri = re.search(r"otpauth://totp/\S+", output).group(0)
    assert "secret=" in uri
    codes = backup_codes(output)
    assert len(codes) == BACKUP_CODE_COUNT == 10
    assert len(set(codes)) == 10
    assert "authenticator" in output.lower()
    assert PASSWORD not in output


def test_admin_flag_makes_a_superuser(env_password) -> None:
    output = run("boss", "--admin")
    assert get_user_model().objects.get(username="boss").is_superuser
    assert output.startswith("Admin boss created.")


def test_creation_is_audited_as_manage_py(env_password) -> None:
    run("bea")
    entry = AuditEntry.objects.get(action=Action.EDITOR_CREATED)
    assert entry.actor == "command line"
    assert entry.detail == {"editor": "bea", "admin": False}
    assert PASSWORD not in str(entry.detail)
    assert audit_verify().intact


def test_without_terminal_or_env_it_refuses_and_creates_nothing(
    no_env_password, monkeypatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n" + PASSWORD + "\n"))
    with pytest.raises(CommandError, match="TIPLINE_PASSWORD"):
        run("bea")
    assert not get_user_model().objects.filter(username="bea").exists()


def test_prompt_asks_twice(no_env_password, monkeypatch) -> None:
    answers = iter([PASSWORD, PASSWORD])
    prompts: list[str] = []
    monkeypatch.setattr(sys, "stdin", FakeTerminal())
    monkeypatch.setattr(
        "getpass.getpass", lambda prompt="": prompts.append(prompt) or next(answers)
    )
    output = run("bea")
    assert len(prompts) == 2
    assert "otpauth://totp/" in output
    assert get_user_model().objects.get(username="bea").check_password(PASSWORD)


def test_prompt_refuses_two_different_passwords(no_env_password, monkeypatch) -> None:
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr(sys, "stdin", FakeTerminal())
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="differ"):
        run("bea")
    assert not get_user_model().objects.filter(username="bea").exists()


def test_duplicate_username_is_refused_before_asking(env_password, monkeypatch) -> None:
    run("bea")
    # Would fail loudly if the command asked for a password.
    monkeypatch.delenv("TIPLINE_PASSWORD")
    monkeypatch.setattr("getpass.getpass", lambda prompt="": pytest.fail("asked for a password"))
    with pytest.raises(CommandError, match="already exists") as raised:
        run("bea")
    assert "\n" not in str(raised.value)
    assert get_user_model().objects.filter(username="bea").count() == 1


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short pw", "at least 12"),
        ("123456789012345", "numeric"),
        ("qwerty123456", "too common"),
        ("beatriz.gomez.beatriz", "similar"),
    ],
)
def test_weak_passwords_are_refused(monkeypatch, password: str, why: str) -> None:
    monkeypatch.setenv("TIPLINE_PASSWORD", password)
    with pytest.raises(CommandError, match=why) as raised:
        run("beatriz.gomez")
    assert "\n" not in str(raised.value)
    assert password not in str(raised.value)
    assert not get_user_model().objects.filter(username="beatriz.gomez").exists()
    assert not AuditEntry.objects.exists()


def test_invalid_username_is_refused(env_password) -> None:
    with pytest.raises(CommandError, match="invalid username"):
        run("<script>")
    assert not get_user_model().objects.exists()


def test_the_new_account_logs_in_with_a_printed_backup_code(env_password) -> None:
    codes = backup_codes(run("bea"))
    client = Client()
    response = client.post(
        "/staff/login/", {"username": "bea", "password": PASSWORD, "code": codes[3]}
    )
    assert response.status_code == 302
    assert client.get("/staff/").status_code == 200
    # The code was used up: a second browser cannot reuse it.
    again = Client().post(
        "/staff/login/", {"username": "bea", "password": PASSWORD, "code": codes[3]}
    )
    assert again.status_code == 400


def test_a_made_up_code_does_not_log_in(env_password) -> None:
    run("bea")
    response = Client().post(
        "/staff/login/", {"username": "bea", "password": PASSWORD, "code": "abcdefghjk"}
    )
    assert response.status_code == 400


def test_the_sealed_key_opens_with_the_password_only(env_password) -> None:
    run("bea")
    user = get_user_model().objects.get(username="bea")
    recipient = RecipientKey.objects.get(user=user, kind=RecipientKey.Kind.EDITOR, active=True)
    private_key = private_key_unseal(user=user, password=PASSWORD)
    assert isinstance(private_key, PrivateKey)
    assert private_key.public_key().to_bytes() == bytes(recipient.public_key)
    assert private_key_unseal(user=user, password=PASSWORD + "!") is None


def test_says_the_tip_line_is_now_open_when_it_was_closed(env_password, recovery_key_present):
    assert "now open" in run("bea")
    assert "now open" not in run("cleo")
