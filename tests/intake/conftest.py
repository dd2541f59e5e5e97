"""Fixtures for the source side: a clock and a real cache (flood, form tokens), a data dir of its own (uploads)."""

from __future__ import annotations

import time
from pathlib import Path

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


@pytest.fixture
def data_dir(tmp_path: Path, settings) -> Path:
    """A data dir of the test's own, so its upload spool starts empty."""
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    return settings.DATA_DIR
