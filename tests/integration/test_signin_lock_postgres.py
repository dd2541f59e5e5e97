"""The sign-in lock and the password-check line on PostgreSQL, with real threads.

The same attacks as tests/accounts/test_signin_lock.py and
test_password_checks.py, where SQLite serialises every writer: here rows are
locked one by one (``select_for_update``), so this is where a lock that reads
before it counts would let attempts through.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from tests.accounts.concurrency import (
    a_wrong_code,
    count_password_checks,
    sign_in_all_at_once,
)
from tests.integration.key_races import tip_created_while
from tests.triage.helpers import staff_account_create
from tipline.accounts.services import editor_password_change
from tipline.accounts.signin import private_key_unseal
from tipline.keyring import tip_key_unwrap
from tipline.models import Grant, RecipientKey, StaffLoginState

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ATTEMPTS = 32


def test_the_suite_runs_on_postgresql() -> None:
    assert connection.vendor == "postgresql"


def test_32_wrong_codes_at_once_get_at_most_the_allowed_number_checked(monkeypatch) -> None:
    account = staff_account_create("ana")
    checks = count_password_checks(monkeypatch, seconds=0.05)

    statuses = sign_in_all_at_once([account.login_data(a_wrong_code(account))] * ATTEMPTS)

    assert statuses == [400] * ATTEMPTS
    assert 1 <= checks.ran <= settings.TIPLINE_LOGIN_FAILURES_BEFORE_LOCK, checks.ran
    state = StaffLoginState.objects.get(user=account.user)
    assert state.failures == checks.ran
    assert state.locked_until is not None and state.locked_until > timezone.now()


def test_no_more_password_checks_run_at_once_than_the_setting_allows(monkeypatch) -> None:
    accounts = [staff_account_create(f"editor{n}") for n in range(8)]
    checks = count_password_checks(monkeypatch, seconds=0.05)
    wrong = [
        {**a.login_data(a.current_code()), "password": "not the password at all"}
        for a in accounts
        for _ in range(4)
    ]

    assert sign_in_all_at_once(wrong) == [400] * ATTEMPTS
    assert checks.ran == ATTEMPTS
    assert checks.most_at_once <= settings.TIPLINE_PASSWORD_CHECKS_AT_ONCE


def test_a_tip_created_while_an_editor_changes_password_is_granted_to_the_new_key(
    recovery_key, monkeypatch
) -> None:
    """Without the tip holding the keys it read, its grant went to the retired key."""
    account = staff_account_create("ana")
    new_password = "a new one 4 ana!"  # noqa: S105 - a test's password
    tip, tip_key = tip_created_while(
        lambda: editor_password_change(
            user=account.user, old_password=account.password, new_password=new_password
        ),
        paused_at=RecipientKey.Kind.EDITOR,
        include_pipeline=False,
        monkeypatch=monkeypatch,
    )
    new_key = RecipientKey.objects.get(user=account.user, active=True)
    private_key = private_key_unseal(user=account.user, password=new_password)
    assert private_key is not None
    assert tip_key_unwrap(tip=tip, recipient=new_key, private_key=private_key) == tip_key
    assert not Grant.objects.filter(tip=tip, recipient__active=False).exists()
