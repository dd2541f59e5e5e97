"""Sign-ins sent all at once from real threads, and a count of the password checks they caused.

Shared by the SQLite tests here and the PostgreSQL one in tests/integration.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection
from django.test import Client

from tests.triage.helpers import StaffAccount


@dataclass
class CheckCounter:
    """How many password checks ran, and the most that ran at the same moment."""

    ran: int = 0
    running: int = 0
    most_at_once: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self) -> None:
        with self._lock:
            self.ran += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)

    def leave(self) -> None:
        with self._lock:
            self.running -= 1


def count_password_checks(monkeypatch, *, seconds: float) -> CheckCounter:
    """Count every ``check_password``; each takes ``seconds`` longer, as Argon2 would, so
    that attempts sent together really are checked together unless something stops them."""
    counter = CheckCounter()
    real = AbstractBaseUser.check_password

    def counted(self, raw_password):
        counter.enter()
        try:
            time.sleep(seconds)
            return real(self, raw_password)
        finally:
            counter.leave()

    monkeypatch.setattr(AbstractBaseUser, "check_password", counted)
    return counter


def sign_in_all_at_once(attempts: list[dict[str, str]]) -> list[int]:
    """POST every attempt to the login form, each from its own thread, released together."""
    barrier = threading.Barrier(len(attempts))

    def attempt(data: dict[str, str]) -> int:
        try:
            barrier.wait(timeout=30)
            return Client().post("/staff/login/", data).status_code
        finally:
            connection.close()  # each thread has its own database connection

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        return list(pool.map(attempt, attempts))


def a_wrong_code(account: StaffAccount) -> str:
    """Six digits the account's authenticator does not show now (nor a step either way)."""
    shown = {account.current_code(drift=d) for d in range(-2, 3)}
    return next(code for code in ("123456", "654321", "000000", "111111") if code not in shown)
