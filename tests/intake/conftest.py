"""Fixtures for the source side's flood containment and form tokens: a clock and a real cache."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from tipline.intake import flood


class Clock:
    """The flood counters' and form tokens' clock, ten minutes into the current hour."""

    def __init__(self) -> None:
        self.now = (time.time() // 3600) * 3600 + 600

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    @property
    def minute(self) -> int:
        return int(self.now // 60)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(flood, "_now", clock)
    return clock


@pytest.fixture
def memory_cache(settings, clock):
    """A real cache (tests/settings.py uses the dummy one), empty, big enough for a flood."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "tipline-flood-tests",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }
    cache.clear()
    yield cache
    cache.clear()
