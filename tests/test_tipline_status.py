"""`manage.py tipline_status` tells the operator which step opens the tip line and how (#16)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tipline.accounts.services import editor_create
from tipline.audit import COMMAND_LINE_ACTOR
from tipline.crypto import PrivateKey
from tipline.keyring import recipient_key_register
from tipline.models import RecipientKey

pytestmark = pytest.mark.django_db

EDITOR_COMMAND = "create_editor USERNAME --admin"
RECOVERY_COMMAND = "create_recovery_key --output"


def status() -> str:
    out = io.StringIO()
    call_command("tipline_status", stdout=out)
    return out.getvalue()


def an_editor() -> None:
    editor_create(actor=COMMAND_LINE_ACTOR, username="ana", password="a long editor password 42")


def a_recovery_key() -> None:
    recipient_key_register(
        kind=RecipientKey.Kind.RECOVERY, public_key=PrivateKey.generate().public_key()
    )


def test_a_fresh_installation_names_both_steps_the_link_first():
    text = status()
    assert "NOT open" in text
    assert "no one on staff could read a tip, and there is no recovery key" in text
    link, editor, recovery = (
        text.index(s) for s in ("set-up link", EDITOR_COMMAND, RECOVERY_COMMAND)
    )
    assert link < editor < recovery  # the page first, then the commands, admin before key


def test_with_only_a_recovery_key_it_asks_for_an_editor():
    a_recovery_key()
    text = status()
    assert "NOT open" in text and "no active editor" in text
    assert EDITOR_COMMAND in text and RECOVERY_COMMAND not in text
    assert "set-up link" in text


def test_with_only_an_editor_it_asks_for_the_recovery_key():
    an_editor()
    text = status()
    assert "NOT open" in text and "there is no recovery key" in text
    assert RECOVERY_COMMAND in text and EDITOR_COMMAND not in text


def test_with_both_it_is_open_and_asks_nothing(recovery_key):
    text = status()
    assert "The tip line is open" in text and recovery_key.recipient.fingerprint in text
    assert "NOT open" not in text and "create_" not in text and "set-up link" not in text
