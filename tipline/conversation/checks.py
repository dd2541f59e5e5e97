"""A line for the Argon2 work of check-backs, so they cannot starve the form or the staff side.

Each check-back derives the source's key with Argon2id (64 MiB, ~0.14 s, both
cores). They run on the source side's threads (tipline/server/limits.py), the
threads the form needs too, so two numbers bound them per process:
``TIPLINE_CHECKBACKS_AT_ONCE`` run together, and at most
``TIPLINE_CHECKBACKS_WAITING`` more wait (up to
``TIPLINE_CHECKBACK_WAIT_SECONDS``) for a turn. Any check-back beyond that is
told at once that the tip line is busy, so however many arrive, no more than
``AT_ONCE + WAITING`` source threads are ever in this line and the rest stay
free for the form. Staff sign-ins have their own line (tipline/accounts/checks.py)
on the staff side's own threads: neither waits for the other.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from django.conf import settings


class CheckBacksBusy(Exception):
    """Every turn was taken, and the waiting room full or its wait over."""


class _Line:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0
        self._size = 0
        self._turns = threading.BoundedSemaphore(1)

    def _semaphore(self) -> threading.BoundedSemaphore:
        size = settings.TIPLINE_CHECKBACKS_AT_ONCE
        if size != self._size:
            self._size, self._turns = size, threading.BoundedSemaphore(size)
        return self._turns

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._lock:
            limit = settings.TIPLINE_CHECKBACKS_AT_ONCE + settings.TIPLINE_CHECKBACKS_WAITING
            if self._inside >= limit:
                raise CheckBacksBusy
            self._inside += 1
            turns = self._semaphore()
        try:
            if not turns.acquire(timeout=settings.TIPLINE_CHECKBACK_WAIT_SECONDS):
                raise CheckBacksBusy
            try:
                yield
            finally:
                turns.release()
        finally:
            with self._lock:
                self._inside -= 1


_line = _Line()


def checkback_work() -> AbstractContextManager[None]:
    """A turn for one check-back's Argon2 work; ``CheckBacksBusy`` when the line is full."""
    return _line.turn()
