"""Password checks take turns, an unknown username costs time but no memory, and sign-in
runs on the staff side's threads, never on the ones sources use.

Each check is Argon2 (about 100 MiB): 32 sign-ins with unknown usernames used
to hash a throwaway password each, at once, and grew the web processes by
900 MiB in six seconds.
"""

from __future__ import annotations

import statistics
import time

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.urls import reverse

from tests.accounts.concurrency import count_password_checks, sign_in_all_at_once
from tests.triage.helpers import english_client, staff_account_create
from tipline.accounts.checks import password_work
from tipline.models import StaffLoginState
from tipline.server.limits import Side, side_of

ATTEMPTS = 32
ARGON2 = ["django.contrib.auth.hashers.Argon2PasswordHasher"]


def wrong_password(account) -> dict[str, str]:
    return {**account.login_data(account.current_code()), "password": "not the password at all"}


def unknown_user(number: int) -> dict[str, str]:
    return {"username": f"nobody{number}", "password": "a guess at a password", "code": "123456"}


@pytest.mark.django_db(transaction=True)
def test_no_more_password_checks_run_at_once_than_the_setting_allows(monkeypatch, settings) -> None:
    # Eight accounts, four wrong passwords each: below the lock, so all 32 are checked.
    accounts = [staff_account_create(f"editor{n}") for n in range(8)]
    checks = count_password_checks(monkeypatch, seconds=0.05)

    statuses = sign_in_all_at_once([wrong_password(a) for a in accounts for _ in range(4)])

    assert statuses == [400] * ATTEMPTS
    assert checks.ran == ATTEMPTS
    assert checks.most_at_once <= settings.TIPLINE_PASSWORD_CHECKS_AT_ONCE == 2


@pytest.mark.django_db
def test_a_full_line_gets_a_calm_try_again_page_and_counts_nothing(settings) -> None:
    settings.TIPLINE_PASSWORD_CHECK_WAIT_SECONDS = 1
    account = staff_account_create("ana")
    with password_work(), password_work():  # both turns taken, by long checks elsewhere
        started = time.monotonic()
        response = english_client().post("/staff/login/", account.login_data())
        waited = time.monotonic() - started
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "Try again in a moment" in response.content.decode()
    assert 1 <= waited < 5
    assert not StaffLoginState.objects.filter(user=account.user, failures__gt=0).exists()
    # The line free again, the same details sign in.
    assert english_client().post("/staff/login/", account.login_data()).status_code == 302


@pytest.fixture
def hashes(monkeypatch) -> list[str]:
    """Every Argon2 hash computed (to make or to check a password), by name."""
    ran: list[str] = []
    encode, verify = Argon2PasswordHasher.encode, Argon2PasswordHasher.verify

    def counted_encode(self, *args, **kwargs):
        ran.append("encode")
        return encode(self, *args, **kwargs)

    def counted_verify(self, *args, **kwargs):
        ran.append("verify")
        return verify(self, *args, **kwargs)

    monkeypatch.setattr(Argon2PasswordHasher, "encode", counted_encode)
    monkeypatch.setattr(Argon2PasswordHasher, "verify", counted_verify)
    return ran


@pytest.mark.django_db(transaction=True)
def test_unknown_usernames_hash_nothing(settings, hashes) -> None:
    settings.PASSWORD_HASHERS = ARGON2
    account = staff_account_create("ana")
    # One real check in this process: what an unknown name's wait is measured on.
    english_client().post("/staff/login/", wrong_password(account))
    hashes.clear()

    statuses = sign_in_all_at_once([unknown_user(n) for n in range(ATTEMPTS)])

    assert statuses == [400] * ATTEMPTS
    assert hashes == [], f"{len(hashes)} Argon2 hashes for unknown usernames"


@pytest.mark.django_db
def test_an_unknown_username_takes_as_long_as_a_wrong_password(settings) -> None:
    settings.PASSWORD_HASHERS = ARGON2
    settings.TIPLINE_LOGIN_FAILURES_BEFORE_LOCK = 100
    account = staff_account_create("ana")

    def seconds(data: dict[str, str]) -> float:
        started = time.monotonic()
        assert english_client().post("/staff/login/", data).status_code == 400
        return time.monotonic() - started

    known = statistics.median(seconds(wrong_password(account)) for _ in range(7))
    unknown = statistics.median(seconds(unknown_user(n)) for n in range(7))
    assert 0.6 < unknown / known < 1.6, f"unknown {unknown:.3f} s, known {known:.3f} s"


def test_sign_in_and_enrolment_run_on_the_staff_sides_threads() -> None:
    for name in ("staff:login", "staff:enrol", "staff:password"):
        assert side_of(reverse(name)) is Side.STAFF, name
