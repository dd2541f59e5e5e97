"""How many password checks run at once, and what an unknown username costs.

Every password check is Argon2id: Django's hasher takes about 100 MiB for a
fraction of a second, and unsealing an editor's key 64 MiB more. Thirty-two
sign-ins at once would take 3 GiB, so the checks of a process take turns:
``TIPLINE_PASSWORD_CHECKS_AT_ONCE`` (2) run at a time, the others wait in line
up to ``TIPLINE_PASSWORD_CHECK_WAIT_SECONDS`` and then get a "try again" page
(``PasswordChecksBusy``). Everything that hashes or unseals with a password
on the web side (sign-in, password change, enrolment, creating an account in
the interface) runs inside ``password_work()``. The line is per process: a
process's memory is what it bounds.

An unknown username must not be told apart by time, and must not cost the
memory either: it sleeps for as long as the last real checks took (the median
of the last few) and hashes nothing. Only before any real check has run in the
process is there nothing to go by; then one check of a throwaway password is
timed, in line like the others, once per process.

These checks run on the staff side's own threads (tipline/server/limits.py:
``/staff/`` is served by its pool, sources by theirs), so sign-ins waiting
here never hold a thread a source needs.
"""

from __future__ import annotations

import secrets
import statistics
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User

# Enough to ride out one slow check, few enough to follow a change of hasher.
_DURATIONS_KEPT = 9


class PasswordChecksBusy(Exception):
    """Every password check stayed taken for ``TIPLINE_PASSWORD_CHECK_WAIT_SECONDS``."""


class _Line:
    """The semaphore of the process, sized from the settings (re-made if they change)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._size = 0
        self._semaphore = threading.BoundedSemaphore(1)
        self._durations: deque[float] = deque(maxlen=_DURATIONS_KEPT)

    def semaphore(self) -> threading.BoundedSemaphore:
        size = settings.TIPLINE_PASSWORD_CHECKS_AT_ONCE
        with self._lock:
            if size != self._size:
                self._size, self._semaphore = size, threading.BoundedSemaphore(size)
            return self._semaphore

    def learn(self, seconds: float) -> None:
        with self._lock:
            self._durations.append(seconds)

    def typical(self) -> float | None:
        with self._lock:
            return statistics.median(self._durations) if self._durations else None


_line = _Line()


@contextmanager
def password_work() -> Iterator[None]:
    """A turn for Argon2 work (a password check, a key unsealed or sealed): wait, or busy."""
    semaphore = _line.semaphore()
    if not semaphore.acquire(timeout=settings.TIPLINE_PASSWORD_CHECK_WAIT_SECONDS):
        raise PasswordChecksBusy
    try:
        yield
    finally:
        semaphore.release()


def password_verify(user: User, password: str) -> bool:
    """``user.check_password``, timed so an unknown username can take as long. In a turn."""
    started = time.monotonic()
    right = user.check_password(password)
    _line.learn(time.monotonic() - started)
    return right


def password_check_imitate() -> None:
    """Take as long as a password check, without its memory: no hashing (once per process aside)."""
    typical = _line.typical()
    if typical is None:
        _calibrate()  # took the time of a check: that was the point
    else:
        time.sleep(typical)


def _calibrate() -> None:
    with password_work():
        started = time.monotonic()
        make_password(secrets.token_urlsafe(16))
        _line.learn(time.monotonic() - started)
