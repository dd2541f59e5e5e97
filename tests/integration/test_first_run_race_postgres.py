"""#16: the set-up page's steps sent at once on PostgreSQL, with real threads.

On SQLite every writer waits for the one before (IMMEDIATE transactions), so
tests/test_first_run_setup_page.py cannot show a race. Here two transactions
can both find no admin: set-up's advisory lock is what lets one of them in.
"""

from __future__ import annotations

import threading
from base64 import b32encode

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from tests.triage.helpers import totp_code
from tipline.accounts.second_factor import totp_secret_new
from tipline.crypto import Argon2Params
from tipline.models import RecipientKey
from tipline.setup.services import (
    SetupStepDone,
    setup_admin_create,
    setup_recovery_key_create,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

AT_ONCE = 6


def all_at_once(calls) -> list[str]:
    """Run each call in its own thread (own connection), released together; their outcomes."""
    start = threading.Barrier(len(calls))
    outcomes: list[str] = []

    def run(call) -> None:
        start.wait()
        try:
            call()
            outcomes.append("made")
        except SetupStepDone:
            outcomes.append("refused")
        except Exception as exc:  # noqa: BLE001 - reported by the assertion
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(outcomes)


def admin_attempt(username: str):
    secret = totp_secret_new()
    code = totp_code(f"otpauth://totp/x?secret={b32encode(secret).decode()}&digits=6&period=30")
    return lambda: setup_admin_create(
        username=username, password="a long admin password 42", totp_secret=secret, code=code
    )


def test_the_suite_runs_on_postgresql() -> None:
    assert connection.vendor == "postgresql"


def test_admins_sent_at_once_make_one() -> None:
    outcomes = all_at_once([admin_attempt(f"admin{n}") for n in range(AT_ONCE)])
    assert outcomes == ["made"] + ["refused"] * (AT_ONCE - 1)
    assert get_user_model().objects.count() == 1


def test_recovery_keys_sent_at_once_make_one(monkeypatch) -> None:
    monkeypatch.setattr(
        "tipline.keyring.RECOVERY_KEY_ARGON2",
        Argon2Params(memory_cost=8 * 1024, iterations=1, lanes=1),
    )

    def attempt() -> None:
        setup_recovery_key_create(passphrase="a recovery passphrase", deliver=lambda a: None)

    outcomes = all_at_once([attempt] * AT_ONCE)
    assert outcomes == ["made"] + ["refused"] * (AT_ONCE - 1)
    assert RecipientKey.objects.filter(kind=RecipientKey.Kind.RECOVERY).count() == 1
