"""`manage.py tipline_status` tells the operator what opens the tip line and what comes next."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tipline.accounts.services import editor_create
from tipline.audit import COMMAND_LINE_ACTOR

pytestmark = pytest.mark.django_db


def status() -> str:
    out = io.StringIO()
    call_command("tipline_status", stdout=out)
    return out.getvalue()


def test_a_fresh_installation_names_the_commands_that_open_it():
    text = status()
    assert "NOT open" in text
    assert "create_recovery_key --output" in text and "create_editor" in text


def test_with_a_recovery_key_it_is_open_and_asks_for_a_staff_account(recovery_key):
    text = status()
    assert "is open" in text and recovery_key.recipient.fingerprint in text
    assert "create_editor" in text


def test_with_an_editor_nothing_more_is_asked(recovery_key):
    editor_create(actor=COMMAND_LINE_ACTOR, username="ana", password="a long editor password 42")
    text = status()
    assert "is open" in text and "create_editor" not in text
