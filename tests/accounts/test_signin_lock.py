"""The lock counts before it checks: attempts sent together cannot slip past it.

Thirty-two sign-ins with the right password and a wrong code, sent at the same
moment from 32 threads: at most ``TIPLINE_LOGIN_FAILURES_BEFORE_LOCK`` of them
are checked (counted with an instrumented ``check_password``), the rest are
refused unchecked, and the account ends up locked. (Before, each attempt read
"not locked", checked, and only then counted: 15 of 32 were checked.) The same
test runs on PostgreSQL in tests/integration/test_signin_lock_postgres.py.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import timezone

from tests.accounts.concurrency import a_wrong_code, count_password_checks, sign_in_all_at_once
from tests.triage.helpers import staff_account_create
from tipline.models import StaffLoginState

ATTEMPTS = 32


@pytest.mark.django_db(transaction=True)
def test_32_wrong_codes_at_once_get_at_most_the_allowed_number_checked(monkeypatch) -> None:
    account = staff_account_create("ana")
    checks = count_password_checks(monkeypatch, seconds=0.05)
    wrong = {**account.login_data(a_wrong_code(account))}

    statuses = sign_in_all_at_once([wrong] * ATTEMPTS)

    assert statuses == [400] * ATTEMPTS
    allowed = settings.TIPLINE_LOGIN_FAILURES_BEFORE_LOCK
    assert 1 <= checks.ran <= allowed, f"{checks.ran} of {ATTEMPTS} were checked"
    state = StaffLoginState.objects.get(user=account.user)
    assert state.failures == checks.ran
    assert state.locked_until is not None and state.locked_until > timezone.now()


@pytest.mark.django_db(transaction=True)
def test_the_right_details_after_the_storm_are_refused_until_the_lock_ends(monkeypatch) -> None:
    account = staff_account_create("ana")
    count_password_checks(monkeypatch, seconds=0.02)
    sign_in_all_at_once([account.login_data(a_wrong_code(account))] * ATTEMPTS)
    right = account.login_data()
    assert sign_in_all_at_once([right])[0] == 400
    StaffLoginState.objects.filter(user=account.user).update(locked_until=None)
    assert sign_in_all_at_once([account.login_data()])[0] == 302
    assert StaffLoginState.objects.get(user=account.user).failures == 0
